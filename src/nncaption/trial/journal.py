"""The parent's epoch journal: the scores a resumed trial takes over from its interrupted run.

Files in `<trial_dir>.journal/`, a sibling of the trial folder, each written to a temporary
name and renamed, so a kill never leaves half a file. The folder lies outside the trial
process's writable folder, so the code under test cannot forge the scores it contains:
- `setup.json` once the behavioural checks are done: the check results, the FLOPs per
  image and the seconds the trial had run.
- `epoch_K.json` once epoch K is scored, before the verdict on it is written: the
  EpochScore fields, the wall-clock seconds of the epoch, the seconds the trial had run,
  and the val hypotheses when the epoch became the best.
The parent writes these from its own scores; it never reads a file the trial process wrote.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

JOURNAL_SUFFIX = ".journal"
SETUP_FILE = "setup.json"


def journal_dir(trial_dir: Path) -> Path:
    """Return the journal folder of a trial: next to the trial folder, where the trial process cannot write."""
    trial_dir = Path(trial_dir)
    return trial_dir.with_name(trial_dir.name + JOURNAL_SUFFIX)


def _write(path: Path, content: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(path.name + ".tmp")
    staging.write_text(json.dumps(content), encoding="utf-8")
    os.replace(staging, path)


def _read(path: Path) -> dict[str, Any] | None:
    """Return the file's JSON object, or None when it is missing or unreadable."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring the unreadable journal file %s: %s", path, exc)
        return None
    return content if isinstance(content, dict) else None


def epoch_path(trial_dir: Path, epoch: int) -> Path:
    return journal_dir(trial_dir) / f"epoch_{epoch}.json"


def write_setup(trial_dir: Path, checks: list[dict[str, Any]], flops_per_image: float | None, elapsed_s: float) -> None:
    _write(journal_dir(trial_dir) / SETUP_FILE,
           {"checks": checks, "flops_per_image": flops_per_image, "elapsed_s": elapsed_s})


def read_setup(trial_dir: Path) -> dict[str, Any] | None:
    return _read(journal_dir(trial_dir) / SETUP_FILE)


def write_epoch(trial_dir: Path, entry: dict[str, Any]) -> None:
    """Write the entry of epoch `entry["score"]["epoch"]`."""
    _write(epoch_path(trial_dir, int(entry["score"]["epoch"])), entry)


def read_epochs(trial_dir: Path) -> list[dict[str, Any]]:
    """Return the entries of epochs 1, 2, ... up to the first one missing or unreadable."""
    entries = []
    while (entry := _read(epoch_path(trial_dir, len(entries) + 1))) is not None:
        entries.append(entry)
    return entries


def journaled_epochs(trial_dir: Path) -> int:
    """Return how many epochs, counted from epoch 1 without a gap, the journal contains."""
    return len(read_epochs(trial_dir)) if read_setup(trial_dir) is not None else 0


def drop_from(trial_dir: Path, epoch: int) -> None:
    """Delete the entries of `epoch` and later epochs."""
    folder = journal_dir(trial_dir)
    for path in folder.glob("epoch_*.json"):
        if int(path.stem.split("_")[1]) >= epoch:
            path.unlink(missing_ok=True)


def clear(trial_dir: Path) -> None:
    shutil.rmtree(journal_dir(trial_dir), ignore_errors=True)
