"""The parent side of a trial against a scripted child: epoch selection, test scoring, stopping, statuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nncaption.errors import ConfigError
from nncaption.sandbox import SandboxResult
from nncaption.status import Status
from nncaption.trial import control, runner

from .helpers import tiny_config


class ScriptedChild:
    """Stands in for run_in_sandbox: plays epoch records of chosen quality and obeys the parent's verdicts.

    `quality[k]` is the share of val images whose hypothesis is their first reference in epoch k+1.
    """

    def __init__(self, prepared, quality, train_seconds=0.1, own=None, error=None):
        self.prepared, self.quality, self.train_seconds = prepared, quality, train_seconds
        self.own, self.error = own, error
        self.requests: list[dict] = []

    def __call__(self, entry, request, workdir, limits, on_record=None):
        self.requests.append(request)
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        result = SandboxResult(returncode=0, seconds=1.0)
        send = lambda record: (result.records.append(record), on_record and on_record(record))  # noqa: E731
        if request["mode"] == "evaluate":
            send({"type": "result", "mode": "evaluate", "hypotheses": self._hypotheses("test", 1.0), "own": self.own})
            return result
        send({"type": "built", "parameters": 1234, "prm": {"lr": 0.001}, "device": "cpu"})
        send({"type": "costs", "parameters": 1234, "flops_per_image": 5.0e6})
        (workdir / "checkpoints").mkdir(exist_ok=True)
        for epoch, share in enumerate(self.quality, start=1):
            if self.error and epoch == self.error[0]:
                send({"type": "error", "status": self.error[1], "phase": "train", "error": "TrialFailure", "message": "boom"})
                return result
            (workdir / "checkpoints" / f"epoch_{epoch}.pt").write_bytes(b"")
            send({"type": "epoch", "epoch": epoch, "train_loss": 1.0 / epoch, "train_seconds": self.train_seconds,
                  "eval_seconds": 0.1, "images_per_second": 100.0 * epoch, "hypotheses": self._hypotheses("val", share),
                  "own": self.own, "peak_rss_bytes": 1000 * epoch})
            if epoch < request["epochs"]:
                verdict = json.loads(control.verdict_path(workdir, epoch).read_text())
                if not verdict["continue"]:
                    break
        send({"type": "result", "mode": "train", "peak_rss_bytes": 9000})
        return result

    def _hypotheses(self, split, share):
        ids = self.prepared.image_ids(split)
        references = self.prepared.references(split)
        good = int(round(share * len(ids)))
        return {str(i): references[i][0] if n < good else f"word{n} nothing" for n, i in enumerate(ids)}


@pytest.fixture
def scored_test_references(monkeypatch):
    """Records the image ids of every evaluate() call the runner makes."""
    calls = []
    real = runner.evaluate

    def spy(references, hypotheses, metrics=None):
        calls.append(sorted(references))
        return real(references, hypotheses, metrics)

    monkeypatch.setattr(runner, "evaluate", spy)
    return calls


def _run(tmp_path, prepared, child, monkeypatch, *overrides):
    monkeypatch.setattr(runner, "run_in_sandbox", child)
    config = tiny_config(tmp_path / "cache", *overrides)
    return runner.run_trial(tmp_path / "model.py", tmp_path / "trial", prepared, config, {}, 10**6)


def test_test_scored_once_for_best_val_epoch(tmp_path, tiny_prepared, monkeypatch, scored_test_references):
    child = ScriptedChild(tiny_prepared, [0.5, 1.0, 0.0])
    outcome = _run(tmp_path, tiny_prepared, child, monkeypatch, "trial.epochs=3", "trial.patience=0")
    test_ids = sorted(str(i) for i in tiny_prepared.image_ids("test"))
    assert outcome.status == Status.TRAINED
    assert outcome.best_epoch == 2
    assert [r["mode"] for r in child.requests] == ["train", "evaluate"]
    assert child.requests[1]["checkpoint"].endswith("epoch_2.pt")
    assert scored_test_references.count(test_ids) == 1
    assert outcome.test_metrics is not None and outcome.test_metrics["Bleu_4"] > 0.9
    assert not [key for key in child.requests[0] if "test" in key]  # the training child never gets test images
    assert [p.name for p in (tmp_path / "trial" / "checkpoints").iterdir()] == ["epoch_2.pt"]


def test_costs_and_memory_collected(tmp_path, tiny_prepared, monkeypatch):
    outcome = _run(tmp_path, tiny_prepared, ScriptedChild(tiny_prepared, [0.5, 1.0]), monkeypatch)
    assert outcome.parameters == 1234
    assert outcome.flops_per_image == 5.0e6
    assert outcome.peak_rss_bytes == 9000
    assert outcome.seconds_per_epoch == pytest.approx(0.1)
    assert outcome.images_per_second == pytest.approx(150.0)


def test_patience_stops_training(tmp_path, tiny_prepared, monkeypatch):
    child = ScriptedChild(tiny_prepared, [1.0, 0.5, 0.5, 0.5, 0.5])
    outcome = _run(tmp_path, tiny_prepared, child, monkeypatch, "trial.epochs=5", "trial.patience=2")
    assert [e.epoch for e in outcome.epochs] == [1, 2, 3]
    assert outcome.status == Status.TRAINED
    assert "patience 2" in outcome.stop_reason
    assert outcome.best_epoch == 1


def test_slow_epoch_ends_as_timeout_with_projection(tmp_path, tiny_prepared, monkeypatch):
    child = ScriptedChild(tiny_prepared, [0.5, 1.0, 1.0], train_seconds=5.0)
    outcome = _run(tmp_path, tiny_prepared, child, monkeypatch, "trial.epochs=3", "trial.epoch_time_limit_s=2")
    assert outcome.status == Status.TIMEOUT
    assert "5.0 s" in outcome.message
    assert "2.0 s" in outcome.message
    assert len(outcome.epochs) == 1
    assert outcome.test_metrics is not None  # the finished epoch is still scored on test


def test_own_inference_failure_is_recorded_not_fatal(tmp_path, tiny_prepared, monkeypatch):
    child = ScriptedChild(tiny_prepared, [1.0], own={"error": "ValueError: no captions", "seconds": 0.1})
    outcome = _run(tmp_path, tiny_prepared, child, monkeypatch, "trial.epochs=1")
    assert outcome.status == Status.TRAINED
    assert outcome.epochs[0].val_metrics_own is None
    assert outcome.epochs[0].own_error == "ValueError: no captions"
    assert outcome.test_own_error == "ValueError: no captions"


def test_own_inference_scored_separately(tmp_path, tiny_prepared, monkeypatch):
    ids = tiny_prepared.image_ids("val") + tiny_prepared.image_ids("test")
    child = ScriptedChild(tiny_prepared, [1.0], own={"hypotheses": {str(i): "" for i in ids}, "seconds": 0.1})
    outcome = _run(tmp_path, tiny_prepared, child, monkeypatch, "trial.epochs=1")
    assert outcome.epochs[0].val_metrics["Bleu_4"] > 0.9
    assert outcome.epochs[0].val_metrics_own is not None
    assert outcome.epochs[0].val_metrics_own["Bleu_4"] < 0.01
    assert outcome.test_metrics_own is not None


def test_child_diverged_error_sets_status(tmp_path, tiny_prepared, monkeypatch):
    child = ScriptedChild(tiny_prepared, [0.5, 1.0], error=(2, "diverged"))
    outcome = _run(tmp_path, tiny_prepared, child, monkeypatch)
    assert outcome.status == Status.DIVERGED
    assert outcome.test_metrics is None
    assert [r["mode"] for r in child.requests] == ["train"]


def test_identical_hypotheses_degenerate(tmp_path, tiny_prepared, monkeypatch):
    child = ScriptedChild(tiny_prepared, [0.0])
    child._hypotheses = lambda split, share: {str(i): "a red square" for i in tiny_prepared.image_ids(split)}
    outcome = _run(tmp_path, tiny_prepared, child, monkeypatch, "trial.epochs=1", "trial.degenerate_check=true")
    assert outcome.status == Status.DEGENERATE
    assert "'a red square'" in outcome.message


@pytest.mark.parametrize(
    ("override", "message"),
    [("trial.decoding=sampling", "trial.decoding"), ("trial.beam_width=0", "trial.beam_width"),
     ("trial.patience=-1", "trial.patience"), ("trial.timeout_s=0", "trial.timeout_s")],
)
def test_invalid_trial_config_rejected(tmp_path, tiny_prepared, monkeypatch, override, message):
    child = ScriptedChild(tiny_prepared, [1.0])
    with pytest.raises(ConfigError, match=message):
        _run(tmp_path, tiny_prepared, child, monkeypatch, override)
    assert child.requests == []
