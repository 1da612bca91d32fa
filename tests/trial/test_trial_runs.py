"""Whole trials in the sandbox on the tiny synthetic set: repeatability and the failure statuses."""

from __future__ import annotations

import json

import pytest

from nncaption.status import Status
from nncaption.trial import runner

from .helpers import MODELS, tiny_config


def _trial(tmp_path, prepared, model, name, *overrides):
    config = tiny_config(tmp_path / "cache", *overrides)
    return runner.run_trial(MODELS / model, tmp_path / name, prepared, config, {}, 10**6)


@pytest.mark.slow
def test_same_seed_gives_identical_metrics(tmp_path, tiny_prepared, monkeypatch):
    scored = []
    real = runner.evaluate
    monkeypatch.setattr(runner, "evaluate", lambda refs, hyps, metrics=None: scored.append(sorted(refs)) or real(refs, hyps, metrics))
    first = _trial(tmp_path, tiny_prepared, "tiny_gru.py", "first", "trial.seed=7")
    second = _trial(tmp_path, tiny_prepared, "tiny_gru.py", "second", "trial.seed=7")

    assert first.status == Status.TRAINED, first.message
    assert [e.val_metrics for e in first.epochs] == [e.val_metrics for e in second.epochs]
    assert [e.probe_loss for e in first.epochs] == [e.probe_loss for e in second.epochs]
    assert [e.train_loss for e in first.epochs] == [e.train_loss for e in second.epochs]
    assert first.test_metrics == second.test_metrics
    assert first.seed == 7

    # Test is scored once per trial, on the checkpoint of the val-selected epoch: one
    # evaluate() call for the harness hypotheses and one for the model's own decoding.
    test_ids = sorted(str(i) for i in tiny_prepared.image_ids("test"))
    assert scored.count(test_ids) == 2 * 2
    request = json.loads((tmp_path / "first" / "evaluate" / "request.json").read_text())
    assert request["checkpoint"].endswith(f"epoch_{first.best_epoch}.pt")
    assert first.flops_per_image and first.flops_per_image > 0
    assert first.peak_rss_bytes and first.peak_rss_bytes > 0
    assert first.epochs[0].val_metrics_own is not None


@pytest.mark.slow
def test_non_causal_model_rejected_before_training(tmp_path, tiny_prepared):
    outcome = _trial(tmp_path, tiny_prepared, "peeking.py", "peeking")
    assert outcome.status == Status.SMOKE_FAILED
    assert "causality" in outcome.message
    assert outcome.epochs == []
    assert outcome.test_metrics is None
    assert not (tmp_path / "peeking" / "checkpoints").exists()


@pytest.mark.slow
def test_nan_parameters_end_as_diverged(tmp_path, tiny_prepared):
    outcome = _trial(tmp_path, tiny_prepared, "exploding.py", "exploding")
    assert outcome.status == Status.DIVERGED
    assert "non-finite" in outcome.message
    assert outcome.test_metrics is None


@pytest.mark.slow
def test_constant_captions_end_as_degenerate(tmp_path, tiny_prepared):
    outcome = _trial(tmp_path, tiny_prepared, "constant.py", "constant", "trial.degenerate_check=true")
    assert outcome.status == Status.DEGENERATE
    assert "the same caption" in outcome.message
    assert outcome.best_epoch is not None
