"""A trial process must not outlive a search driver that is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sandbox_helpers import CORPUS, HERE, STUB_ENTRY

PARENT_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from nncaption.sandbox import SandboxLimits, run_in_sandbox

    def on_record(record):
        if record.get("type") == "sandbox":
            print(record["pid"], flush=True)

    request = {"candidate": sys.argv[1]}
    limits = SandboxLimits(wall_seconds=300.0, phase_seconds={"build": 300.0})
    run_in_sandbox(sys.argv[2], request, Path(sys.argv[3]), limits, on_record)
    """
)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.slow
def test_trial_dies_with_killed_parent(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), *sys.path]))
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT_SCRIPT, str(CORPUS / "loop_in_init.py"), STUB_ENTRY, str(tmp_path / "trial")],
        stdout=subprocess.PIPE, text=True, env=env,
    )
    child_pid = int(parent.stdout.readline())
    assert _alive(child_pid)

    parent.send_signal(signal.SIGKILL)
    parent.wait()

    deadline = time.monotonic() + 10
    while _alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child_pid)
