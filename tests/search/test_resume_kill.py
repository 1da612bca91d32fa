"""A search killed with SIGKILL at random moments resumes without losing or repeating work."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .helpers import search_args, write_replay

HERE = Path(__file__).parent
CANDIDATES = 12
FAILING = {2, 7}  # their first code fails to build, so a runtime repair round runs


def _settings(replay: Path, record: Path) -> list[str]:
    return [
        f"search.candidates={CANDIDATES}", "search.workers=2", "search.report=false", "trial.epochs=3",
        "generator.kind=replay", f"generator.replay_file={replay}", f"generator.record_file={record}",
        "generator.repair_rounds=1", "generator.k=2",
    ]


def _launch(run_dir: Path, cache: Path, settings: list[str], log: Path) -> subprocess.Popen:
    """Start the search in a child process; its stderr goes to `<log>.stderr` (a file, so it never blocks)."""
    env = dict(os.environ, NNCAPTION_FAKE_TRIAL_LOG=str(log), PYTHONPATH=str(HERE.parents[1]))
    args = [sys.executable, str(HERE / "kill_target.py"), *search_args(run_dir, cache, *settings)]
    with open(f"{log}.stderr", "ab") as stderr:
        return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=stderr)


def _stderr_tail(log: Path) -> str:
    return Path(f"{log}.stderr").read_bytes()[-3000:].decode(errors="replace")


def _snapshot(store: Path) -> tuple[dict[int, tuple], set[tuple[int, int]]]:
    """Return the finished candidates (id -> status, finished_at, val BLEU-4) and the stored LLM calls."""
    if not store.exists():
        return {}, set()
    db = sqlite3.connect(store)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finished = {row[0]: tuple(row[1:]) for row in db.execute(
            "SELECT id, status, finished_at, val_bleu4 FROM candidates "
            "WHERE status NOT IN ('pending', 'running', 'repairing')")}
        calls = set(db.execute("SELECT candidate_id, attempt FROM llm_calls").fetchall())
    finally:
        db.close()
    return finished, calls


def _wait_for_progress(process: subprocess.Popen, store: Path, finished: int) -> None:
    """Wait until `finished` candidates have a final status, so the kill lands inside the loop."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if len(_snapshot(store)[0]) >= finished:
                return
        except sqlite3.Error:
            pass  # the child is creating the store right now
        time.sleep(0.05)


def _requests(record: Path) -> list[tuple[int, int]]:
    if not record.exists():
        return []
    lines = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(line["candidate"], line["call"]) for line in lines]


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume(tmp_path, data_cache):
    replay = write_replay(tmp_path / "replies.jsonl", CANDIDATES, FAILING)
    record, log, run_dir = tmp_path / "requests.jsonl", tmp_path / "trials.jsonl", tmp_path / "run"
    settings = _settings(replay, record)
    rng = random.Random(1234)
    interrupted = 0

    for kill in range(4):
        finished_before, calls_before = _snapshot(run_dir / "store.sqlite")
        requests_before = len(_requests(record))
        process = _launch(run_dir, data_cache, settings, log)
        _wait_for_progress(process, run_dir / "store.sqlite", len(finished_before) + rng.randint(1, 3))
        time.sleep(rng.uniform(0.0, 0.4))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

        finished_after, _ = _snapshot(run_dir / "store.sqlite")
        interrupted += len(finished_after) < CANDIDATES
        for candidate_id, values in finished_before.items():
            assert finished_after.get(candidate_id) == values, (
                f"kill {kill}: finished candidate {candidate_id} changed\n{_stderr_tail(log)}")
        repeated = set(_requests(record)[requests_before:]) & calls_before
        assert not repeated, f"kill {kill}: stored LLM requests sent again: {sorted(repeated)}\n{_stderr_tail(log)}"

    assert interrupted >= 2, f"the kills came after the search had ended\n{_stderr_tail(log)}"
    finished_before, calls_before = _snapshot(run_dir / "store.sqlite")
    requests_before = len(_requests(record))
    process = _launch(run_dir, data_cache, settings, log)
    process.wait(timeout=300)
    assert process.returncode == 0, _stderr_tail(log)

    finished, calls = _snapshot(run_dir / "store.sqlite")
    assert sorted(finished) == list(range(CANDIDATES))
    for candidate_id, values in finished_before.items():
        assert finished[candidate_id] == values
    assert not set(_requests(record)[requests_before:]) & calls_before
    assert calls == {(i, 0) for i in range(CANDIDATES)} | {(i, 1) for i in FAILING}

    db = sqlite3.connect(run_dir / "store.sqlite")
    statuses = dict(db.execute("SELECT id, status FROM candidates").fetchall())
    assert all(status == "trained" for status in statuses.values()), statuses
    for candidate_id in FAILING:
        attempts = db.execute("SELECT attempt, status FROM attempts WHERE candidate_id = ? ORDER BY attempt", (candidate_id,)).fetchall()
        assert attempts == [(0, "build_error"), (1, "trained")]
    epochs = db.execute("SELECT candidate_id, COUNT(*) FROM epochs GROUP BY candidate_id").fetchall()
    assert sorted(epochs) == [(i, 3) for i in range(CANDIDATES)]
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
