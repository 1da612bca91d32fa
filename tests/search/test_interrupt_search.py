"""One Ctrl-C ends a search that is training, at once, and leaves no trial process."""

import os
import signal
import subprocess
import sys
import time

import pytest


def _trial_processes(marker: str) -> list[str]:
    return subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()


@pytest.mark.slow
def test_sigint_stops_training_search(tmp_path):
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "nncaption", "-q", "search", "--run-dir", str(run_dir),
               "--set", f"data.cache_dir={tmp_path / 'cache'}", "--set", "search.candidates=2",
               "--set", "trial.epochs=30", "--set", "trial.patience=0", "--set", "data.synthetic_images=400",
               "--set", "data.synthetic_size=32", "--set", "data.image_size=16", "--set", "data.min_count=1"]
    search = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    checkpoints = run_dir / "candidates" / "0000" / "trial" / "checkpoints"
    deadline = time.monotonic() + 180
    while not checkpoints.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert checkpoints.exists(), "no trial reached its first epoch"

    # A terminal sends SIGINT to the whole foreground process group.
    os.killpg(search.pid, signal.SIGINT)
    started = time.monotonic()
    _, err = search.communicate(timeout=60)

    assert search.returncode == 130
    assert time.monotonic() - started < 15
    assert "interrupted" in err
    assert _trial_processes(str(run_dir)) == []
