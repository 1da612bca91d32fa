"""A search spreads its trials over the visible GPUs, one GPU per trial, least-loaded first."""

from __future__ import annotations

import threading
import time

import nncaption.search.driver as driver
from nncaption.config import load_config
from nncaption.search.loop import open_run, run_search
from nncaption.status import Status
from nncaption.trial.runner import EpochScore, TrialOutcome

from .helpers import TINY_DATA


def test_trials_spread_over_gpus(tmp_path, data_cache, monkeypatch):
    lock = threading.Lock()
    running: dict[str, int] = {}
    seen: list[tuple[str | None, int]] = []  # (gpu, trials on that GPU including this one)

    def trial(model_path, trial_dir, prepared, config, prm, param_budget, on_epoch=None, *args, gpu=None, **kwargs):
        with lock:
            running[gpu] = running.get(gpu, 0) + 1
            seen.append((gpu, running[gpu]))
        time.sleep(0.2)
        with lock:
            running[gpu] -= 1
        score = EpochScore(1, 1.0, {"Bleu_4": 0.1}, 0.2, 0.0, None)
        return TrialOutcome(Status.TRAINED, parameters=1, epochs=[score], best_epoch=1, seconds=0.2)

    monkeypatch.setattr(driver, "run_trial", trial)
    monkeypatch.setattr(driver, "spread_gpus", lambda device: ["3", "5"])
    config = load_config(None, TINY_DATA + [f"data.cache_dir={data_cache}", "search.candidates=6", "search.workers=2",
                                            "search.report=false"])
    run = open_run(tmp_path / "run", config)
    run_search(run)
    statuses = {row["status"] for row in run.store.candidates()}
    run.store.close()

    assert statuses == {"trained"}
    assert {gpu for gpu, _ in seen} == {"3", "5"}
    assert max(load for _, load in seen) == 1  # two workers, two GPUs: never two trials on one GPU


def test_cpu_trials_get_no_gpu(tmp_path, data_cache, monkeypatch):
    calls: list[dict] = []

    def trial(model_path, trial_dir, prepared, config, prm, param_budget, on_epoch=None, *args, **kwargs):
        calls.append(kwargs)
        score = EpochScore(1, 1.0, {"Bleu_4": 0.1}, 0.0, 0.0, None)
        return TrialOutcome(Status.TRAINED, parameters=1, epochs=[score], best_epoch=1, seconds=0.0)

    monkeypatch.setattr(driver, "run_trial", trial)
    config = load_config(None, TINY_DATA + [f"data.cache_dir={data_cache}", "search.candidates=2", "search.workers=2",
                                            "search.report=false", "trial.device=cpu"])
    run = open_run(tmp_path / "run", config)
    run_search(run)
    run.store.close()

    assert len(calls) >= 2
    assert all("gpu" not in kwargs for kwargs in calls)
