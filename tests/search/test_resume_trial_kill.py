"""A search SIGKILLed while a trial trains resumes that trial after its last epoch, with the same numbers."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nncaption.trial.journal import journal_dir

from .helpers import search_args

EPOCHS = 4
SETTINGS = ["search.candidates=1", "search.report=false", f"trial.epochs={EPOCHS}", "trial.patience=0",
            "trial.degenerate_check=false"]


def _launch(run_dir: Path, cache: Path, stderr: Path) -> subprocess.Popen:
    with open(stderr, "ab") as handle:
        return subprocess.Popen([sys.executable, "-m", "nncaption", *search_args(run_dir, cache, *SETTINGS)],
                                stdout=subprocess.DEVNULL, stderr=handle)


def _epoch_rows(store: Path) -> dict[int, tuple]:
    db = sqlite3.connect(store)
    try:
        rows = db.execute("SELECT epoch, train_loss, val_metrics_json, train_seconds FROM epochs WHERE candidate_id = 0")
        return {row[0]: tuple(row[1:]) for row in rows}
    finally:
        db.close()


def _candidate(store: Path) -> tuple:
    db = sqlite3.connect(store)
    try:
        return db.execute("SELECT status, best_epoch, test_metrics_json FROM candidates WHERE id = 0").fetchone()
    finally:
        db.close()


def _wait_for(path: Path, process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)


@pytest.mark.slow
def test_sigkilled_search_resumes_running_trial(tmp_path, data_cache):
    straight_dir, run_dir, stderr = tmp_path / "straight", tmp_path / "run", tmp_path / "stderr.log"
    assert _launch(straight_dir, data_cache, stderr).wait(timeout=300) == 0, stderr.read_text()

    # Kill the search as soon as the parent has journaled epoch 2: the trial process dies with it.
    search = _launch(run_dir, data_cache, stderr)
    journal = journal_dir(run_dir / "candidates" / "0000" / "trial")
    _wait_for(journal / "epoch_2.json", search, 180)
    search.send_signal(signal.SIGKILL)
    search.wait(timeout=30)
    assert _candidate(run_dir / "store.sqlite")[0] == "running", "the kill came after the trial had ended"
    before = _epoch_rows(run_dir / "store.sqlite")
    request = json.loads((run_dir / "candidates" / "0000" / "trial" / "request.json").read_text())
    assert "resume_after" not in request

    rerun = _launch(run_dir, data_cache, stderr)
    assert rerun.wait(timeout=300) == 0, stderr.read_text()

    request = json.loads((run_dir / "candidates" / "0000" / "trial" / "request.json").read_text())
    assert request["mode"] == "train"
    assert request["resume_after"] >= 2
    assert "resume state not used" not in stderr.read_text()
    after = _epoch_rows(run_dir / "store.sqlite")
    assert sorted(after) == list(range(1, EPOCHS + 1))
    # The epochs trained before the kill keep their rows, measured times included.
    assert 1 in before
    for epoch, row in before.items():
        assert after[epoch] == row, f"epoch {epoch}"
    straight = _epoch_rows(straight_dir / "store.sqlite")
    assert [after[e][:2] for e in after] == [straight[e][:2] for e in straight]
    assert _candidate(run_dir / "store.sqlite") == _candidate(straight_dir / "store.sqlite")
    assert _candidate(run_dir / "store.sqlite")[0] == "trained"
