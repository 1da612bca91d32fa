"""The parent's verdict after each epoch: continue training or stop.

Only the parent holds the val references, so only it can score an epoch and decide on
early stopping. After sending an epoch record (except the last epoch's), the child waits
for `control/epoch_K.json` in the trial directory, written by the parent once it has
scored epoch K: `{"continue": true}` or `{"continue": false, "reason": "..."}`. The file
is written to a temporary name and renamed, so the child never reads half a verdict.
Waiting keeps the stopping point independent of timing: the same seed stops at the same
epoch on a fast and on a slow machine.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

CONTROL_DIR = "control"
POLL_SECONDS = 0.02


def verdict_path(trial_dir: Path, epoch: int) -> Path:
    return Path(trial_dir) / CONTROL_DIR / f"epoch_{epoch}.json"


def write_verdict(trial_dir: Path, epoch: int, carry_on: bool, reason: str = "") -> None:
    """Write the parent's verdict on epoch `epoch` atomically."""
    path = verdict_path(trial_dir, epoch)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".tmp")
    staging.write_text(json.dumps({"continue": carry_on, "reason": reason}), encoding="utf-8")
    os.replace(staging, path)


def wait_for_verdict(trial_dir: Path, epoch: int, timeout_s: float) -> dict[str, Any] | None:
    """Return the parent's verdict on `epoch`, or None when none arrived within `timeout_s` seconds."""
    path = verdict_path(trial_dir, epoch)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
        time.sleep(POLL_SECONDS)
    return None
