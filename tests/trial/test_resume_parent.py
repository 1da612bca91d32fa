"""The parent side of a resumed trial against a scripted child: journal takeover, fallback, epoch callbacks."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from nncaption.sandbox import SandboxResult
from nncaption.status import Status
from nncaption.trial import control, journal, runner

from .helpers import tiny_config

QUALITY = [0.5, 1.0, 0.75]  # share of val images captioned with their first reference, per epoch


class ScriptedResumingChild:
    """Stands in for run_in_sandbox. A first training run dies by SIGKILL after `die_after` epochs.

    A run with `resume_after` in its request sends `resumed` with `resume_epoch` (0: the
    fresh-start fallback), replays that epoch's record and trains on.
    """

    def __init__(self, prepared, die_after=None, resume_epoch=0):
        self.prepared, self.die_after, self.resume_epoch = prepared, die_after, resume_epoch
        self.requests: list[dict] = []

    def __call__(self, entry, request, workdir, limits, on_record=None):
        self.requests.append(request)
        result = SandboxResult(returncode=0, seconds=1.0)
        send = lambda record: (result.records.append(record), on_record and on_record(record))  # noqa: E731
        if request["mode"] == "evaluate":
            send({"type": "result", "mode": "evaluate", "hypotheses": self._hypotheses("test", 1.0)})
            return result
        send({"type": "built", "parameters": 1234, "prm": {}, "device": "cpu"})
        first = 1
        if "resume_after" in request:
            send({"type": "resumed", "epoch": self.resume_epoch, "reason": "scripted fallback"})
            first = self.resume_epoch or 1
        if first == 1:
            send({"type": "checks", "results": [{"name": "build", "passed": True}]})
            send({"type": "costs", "parameters": 1234, "flops_per_image": 5.0e6})
        for epoch in range(first, request["epochs"] + 1):
            record = self._record(epoch)
            send(dict(record, replayed=True) if epoch == self.resume_epoch else record)
            if epoch == self.die_after and "resume_after" not in request:
                return SandboxResult(records=result.records, returncode=-9, signal_name="SIGKILL", seconds=1.0)
            if epoch < request["epochs"] and not json.loads(control.verdict_path(workdir, epoch).read_text())["continue"]:
                break
        send({"type": "result", "mode": "train"})
        return result

    def _record(self, epoch):
        return {"type": "epoch", "epoch": epoch, "train_loss": 1.0 / epoch, "train_seconds": 0.1, "eval_seconds": 0.1,
                "images_per_second": 10.0, "hypotheses": self._hypotheses("val", QUALITY[epoch - 1]), "own": None}

    def _hypotheses(self, split, share):
        ids, references = self.prepared.image_ids(split), self.prepared.references(split)
        good = int(round(share * len(ids)))
        return {str(i): references[i][0] if n < good else f"word{n} nothing" for n, i in enumerate(ids)}


def _run(tmp_path, prepared, child, monkeypatch, resume, seen=None):
    monkeypatch.setattr(runner, "run_in_sandbox", child)
    config = tiny_config(tmp_path / "cache", f"trial.epochs={len(QUALITY)}", "trial.patience=0")
    on_epoch = None if seen is None else (lambda score: seen.append(score.epoch))
    return runner.run_trial(Path("model.py"), tmp_path / "trial", prepared, config, {}, 10**6, on_epoch=on_epoch,
                            resume=resume, keep_resume_state=True)


def test_straight_and_resumed_scores_equal(tmp_path, tiny_prepared, monkeypatch):
    straight = _run(tmp_path / "a", tiny_prepared, ScriptedResumingChild(tiny_prepared), monkeypatch, resume=False)
    child = ScriptedResumingChild(tiny_prepared, die_after=2, resume_epoch=2)
    killed = _run(tmp_path / "b", tiny_prepared, child, monkeypatch, resume=False)
    seen: list[int] = []
    resumed = _run(tmp_path / "b", tiny_prepared, child, monkeypatch, resume=True, seen=seen)

    assert killed.status == Status.CRASHED
    assert child.requests[-2]["resume_after"] == 2
    assert seen == [1, 2, 3]  # the kept epoch 1, then the replayed epoch 2 and the new one, each once
    assert resumed.resumed_from_epoch == 2
    assert [e.val_metrics for e in resumed.epochs] == [e.val_metrics for e in straight.epochs]
    assert resumed.best_epoch == straight.best_epoch == 2
    assert resumed.test_metrics == straight.test_metrics
    assert resumed.flops_per_image == 5.0e6
    assert [c["name"] for c in resumed.checks] == ["build"]


def test_resume_one_epoch_past_journal(tmp_path, tiny_prepared, monkeypatch):
    child = ScriptedResumingChild(tiny_prepared, die_after=2, resume_epoch=2)
    _run(tmp_path, tiny_prepared, child, monkeypatch, resume=False)
    journal.epoch_path(tmp_path / "trial", 2).unlink()

    resumed = _run(tmp_path, tiny_prepared, child, monkeypatch, resume=True)

    assert child.requests[-2]["resume_after"] == 1
    assert [e.epoch for e in resumed.epochs] == [1, 2, 3]
    assert resumed.best_epoch == 2
    assert len(journal.read_epochs(tmp_path / "trial")) == 3


def test_fallback_drops_journal_and_warns(tmp_path, tiny_prepared, monkeypatch, caplog):
    child = ScriptedResumingChild(tiny_prepared, die_after=2, resume_epoch=0)
    _run(tmp_path, tiny_prepared, child, monkeypatch, resume=False)
    seen: list[int] = []

    with caplog.at_level(logging.WARNING, logger="nncaption.trial.runner"):
        resumed = _run(tmp_path, tiny_prepared, child, monkeypatch, resume=True, seen=seen)

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "scripted fallback" in warnings[0]
    assert resumed.resumed_from_epoch is None
    assert [e.epoch for e in resumed.epochs] == [1, 2, 3]
    assert seen == [1, 2, 3]  # nothing from the dropped journal, then the fresh epochs
    assert resumed.status == Status.TRAINED


def test_missing_journal_starts_fresh(tmp_path, tiny_prepared, monkeypatch, caplog):
    child = ScriptedResumingChild(tiny_prepared)
    with caplog.at_level(logging.WARNING, logger="nncaption.trial.runner"):
        outcome = _run(tmp_path, tiny_prepared, child, monkeypatch, resume=True)

    assert "resume_after" not in child.requests[0]
    assert any("no epoch journal" in r.getMessage() for r in caplog.records)
    assert [e.epoch for e in outcome.epochs] == [1, 2, 3]
