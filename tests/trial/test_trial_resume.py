"""A trial killed after an epoch and resumed gives the numbers of a trial never interrupted.

Every test compares against one straight 3-epoch run of `stateful_gru.py`, whose training
draws from all three random generators and keeps optimizer, scheduler and counter state.
"""

from __future__ import annotations

import logging
import shutil

import pytest

from nncaption.sandbox.runner import terminate_all
from nncaption.status import Status
from nncaption.trial import journal, resume_state, runner

from .helpers import MODELS, tiny_config

MODEL = MODELS / "stateful_gru.py"
PRM = {"lr": 0.03}  # with trial.seed=11, epoch 3 has the best val BLEU-4
EPOCHS = 3


def _config(cache_dir):
    return tiny_config(cache_dir, f"trial.epochs={EPOCHS}", "trial.patience=0", "trial.seed=11")


def _trial(folder, prepared, cache_dir, model=MODEL, **options):
    return runner.run_trial(model, folder, prepared, _config(cache_dir), PRM, 10**6, **options)


@pytest.fixture(scope="module")
def straight(tmp_path_factory, tiny_prepared, tiny_cache):
    outcome = _trial(tmp_path_factory.mktemp("straight") / "trial", tiny_prepared, tiny_cache)
    assert outcome.status == Status.TRAINED, outcome.message
    assert len(outcome.epochs) == EPOCHS
    return outcome


@pytest.fixture(scope="module")
def killed_after_epoch_2(tmp_path_factory, tiny_prepared, tiny_cache):
    """A trial folder whose trial process was SIGKILLed while it trained epoch 3."""
    folder = tmp_path_factory.mktemp("killed") / "trial"

    def kill_after_epoch_2(score):
        if score.epoch == 2:
            terminate_all()

    outcome = _trial(folder, tiny_prepared, tiny_cache, on_epoch=kill_after_epoch_2, keep_resume_state=True)
    assert outcome.status == Status.CRASHED, outcome.message
    assert [e.epoch for e in outcome.epochs] == [1, 2]
    return folder


def _copy(folder, tmp_path):
    """Copy a killed trial's folder and its journal, which lies next to it."""
    target = tmp_path / "trial"
    shutil.copytree(folder, target)
    shutil.copytree(journal.journal_dir(folder), journal.journal_dir(target))
    return target


def _verdicts(checks):
    return [(check["name"], check["passed"]) for check in checks]


def _assert_same_numbers(resumed, straight):
    assert resumed.status == Status.TRAINED, resumed.message
    assert [e.epoch for e in resumed.epochs] == [1, 2, 3]
    for mine, theirs in zip(resumed.epochs, straight.epochs, strict=True):
        assert mine.train_loss == theirs.train_loss, f"epoch {mine.epoch}"
        assert mine.probe_loss == theirs.probe_loss, f"epoch {mine.epoch}"
        assert mine.val_metrics == theirs.val_metrics, f"epoch {mine.epoch}"
    assert resumed.best_epoch == straight.best_epoch
    assert resumed.test_metrics == straight.test_metrics


@pytest.mark.slow
def test_killed_trial_resumes_with_same_numbers(tmp_path, killed_after_epoch_2, straight, tiny_prepared, tiny_cache):
    folder = _copy(killed_after_epoch_2, tmp_path)
    assert (folder / resume_state.RESUME_FILE).is_file()

    resumed = _trial(folder, tiny_prepared, tiny_cache, resume=True)

    assert resumed.resumed_from_epoch == 2
    _assert_same_numbers(resumed, straight)
    assert straight.best_epoch == EPOCHS  # so the test metrics come from an epoch trained after the resume
    assert _verdicts(resumed.checks) == _verdicts(straight.checks)
    assert resumed.flops_per_image == straight.flops_per_image
    assert not (folder / resume_state.RESUME_FILE).exists()
    assert [p.name for p in (folder / "checkpoints").iterdir()] == [f"epoch_{resumed.best_epoch}.pt"]


@pytest.mark.slow
def test_unscored_epoch_is_sent_again(tmp_path, killed_after_epoch_2, straight, tiny_prepared, tiny_cache):
    # The kill came after the resume state of epoch 2 but before the parent journaled epoch 2.
    folder = _copy(killed_after_epoch_2, tmp_path)
    journal.epoch_path(folder, 2).unlink()

    resumed = _trial(folder, tiny_prepared, tiny_cache, resume=True)

    assert resumed.resumed_from_epoch == 2
    _assert_same_numbers(resumed, straight)


@pytest.mark.slow
def test_corrupt_resume_state_starts_afresh(tmp_path, killed_after_epoch_2, straight, tiny_prepared, tiny_cache, caplog):
    folder = _copy(killed_after_epoch_2, tmp_path)
    path = folder / resume_state.RESUME_FILE
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    with caplog.at_level(logging.WARNING, logger="nncaption.trial.runner"):
        resumed = _trial(folder, tiny_prepared, tiny_cache, resume=True)

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "resume state not used" in warnings[0]
    assert "cannot read the resume state" in warnings[0]
    assert resumed.resumed_from_epoch is None
    _assert_same_numbers(resumed, straight)
    assert _verdicts(resumed.checks) == _verdicts(straight.checks)


@pytest.mark.slow
def test_changed_model_code_starts_afresh(tmp_path, killed_after_epoch_2, tiny_prepared, tiny_cache, caplog):
    folder = _copy(killed_after_epoch_2, tmp_path)
    changed = tmp_path / "wider.py"
    changed.write_text(MODEL.read_text(encoding="utf-8").replace("HIDDEN = 32", "HIDDEN = 24"), encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger="nncaption.trial.runner"):
        resumed = _trial(folder, tiny_prepared, tiny_cache, model=changed, resume=True)

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "does not match the rebuilt Net" in warnings[0]
    assert resumed.resumed_from_epoch is None
    assert resumed.status == Status.TRAINED, resumed.message
    assert [e.epoch for e in resumed.epochs] == [1, 2, 3]
