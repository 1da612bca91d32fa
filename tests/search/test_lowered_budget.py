"""Lowering search.candidates on resume leaves the unfinished candidates past it untrained."""

from __future__ import annotations

import nncaption.search.driver as driver
from nncaption.cli.main import main
from nncaption.store import Store

from .fake_trial import fake_run_trial
from .helpers import search_args


def _statuses(run_dir):
    store = Store(run_dir / "store.sqlite", create=False)
    try:
        return {row["id"]: row["status"] for row in store.candidates()}
    finally:
        store.close()


def test_lowered_candidates_leave_rest_pending(tmp_path, data_cache, monkeypatch):
    monkeypatch.setattr(driver, "run_trial", fake_run_trial)
    run_dir = tmp_path / "run"
    common = ("search.report=false", "search.workers=1", "search.lookahead=2")

    assert main(search_args(run_dir, data_cache, "search.candidates=3", "search.max_trials=1", *common)) == 0
    first = _statuses(run_dir)
    assert list(first.values()).count("trained") == 1
    pending = sorted(i for i, status in first.items() if status == "pending")
    assert pending

    assert main(search_args(run_dir, data_cache, f"search.candidates={pending[0]}", *common)) == 0
    second = _statuses(run_dir)

    assert all(second[i] == "pending" for i in pending)
