"""Generation runs ahead of training with a look-ahead, and waits for a free slot without one."""

from __future__ import annotations

import threading
import time

import nncaption.search.driver as driver
from nncaption.config import load_config
from nncaption.search.loop import open_run, run_search
from nncaption.status import Status
from nncaption.trial.runner import EpochScore, TrialOutcome

from .helpers import TINY_DATA

LATENCY = 0.3  # seconds per proposal and per trial


class _Timeline:
    """Intervals during which a proposal or a trial was in progress."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.proposals: list[tuple[float, float]] = []
        self.trials: list[tuple[float, float]] = []

    def overlaps(self) -> int:
        return sum(1 for p in self.proposals for t in self.trials if p[0] < t[1] and t[0] < p[1])


class _SlowGenerator:
    def __init__(self, inner, timeline: _Timeline) -> None:
        self.inner, self.timeline, self.kind = inner, timeline, "composer"

    def propose(self, index):
        started = time.monotonic()
        time.sleep(LATENCY)
        proposal = self.inner.propose(index)
        with self.timeline.lock:
            self.timeline.proposals.append((started, time.monotonic()))
        return proposal

    def repair(self, proposal, feedback, attempt):
        return None


def _run(tmp_path, data_cache, lookahead: int, monkeypatch) -> _Timeline:
    timeline = _Timeline()

    def trial(model_path, trial_dir, prepared, config, prm, param_budget, on_epoch=None, resume=False, keep_resume_state=False):
        started = time.monotonic()
        time.sleep(LATENCY)
        with timeline.lock:
            timeline.trials.append((started, time.monotonic()))
        score = EpochScore(1, 1.0, {"Bleu_4": 0.1}, LATENCY, 0.0, None)
        return TrialOutcome(Status.TRAINED, parameters=1, epochs=[score], best_epoch=1, seconds=LATENCY)

    monkeypatch.setattr(driver, "run_trial", trial)
    config = load_config(None, TINY_DATA + [f"data.cache_dir={data_cache}", "search.candidates=5", "search.workers=1",
                                            f"search.lookahead={lookahead}", "search.report=false"])
    run = open_run(tmp_path / f"run{lookahead}", config)
    run.generator = _SlowGenerator(run.generator, timeline)
    run_search(run)
    assert {row["status"] for row in run.store.candidates()} == {"trained"}
    run.store.close()
    return timeline


def test_lookahead_overlaps_generation_and_training(tmp_path, data_cache, monkeypatch):
    timeline = _run(tmp_path, data_cache, 2, monkeypatch)
    assert len(timeline.proposals) == 5
    assert len(timeline.trials) == 5
    # Proposals 2..5 are generated while the trial before them runs.
    assert timeline.overlaps() >= 3, (timeline.proposals, timeline.trials)


def test_zero_lookahead_is_sequential(tmp_path, data_cache, monkeypatch):
    timeline = _run(tmp_path, data_cache, 0, monkeypatch)
    assert len(timeline.proposals) == 5
    assert len(timeline.trials) == 5
    assert timeline.overlaps() == 0, (timeline.proposals, timeline.trials)
