"""The parent's stopping and health rules."""

from __future__ import annotations

from nncaption.trial.protocol import constant_caption_bleu4, decide_after_epoch, degenerate_reason

LIMITS = {"epoch_time_limit_s": 60.0, "elapsed_s": 100.0, "mean_epoch_s": 30.0, "trial_limit_s": 300.0}


def test_continues_while_improving():
    decision = decide_after_epoch(3, 3, 0.2, patience=2, train_seconds=20.0, **LIMITS)
    assert decision.carry_on
    assert decision.reason == ""


def test_patience_stops_after_stale_epochs():
    decision = decide_after_epoch(4, 2, 0.2, patience=2, train_seconds=20.0, **LIMITS)
    assert not decision.carry_on
    assert not decision.timeout
    assert "patience 2" in decision.reason
    assert "epoch 2" in decision.reason


def test_patience_zero_never_stops():
    assert decide_after_epoch(9, 1, 0.2, patience=0, train_seconds=20.0, **LIMITS).carry_on


def test_slow_epoch_stops_as_timeout():
    decision = decide_after_epoch(1, 1, 0.2, patience=2, train_seconds=75.0, **LIMITS)
    assert not decision.carry_on
    assert decision.timeout
    assert "75.0 s" in decision.reason
    assert "60.0 s" in decision.reason


def test_projection_past_trial_limit_stops_as_timeout():
    limits = dict(LIMITS, elapsed_s=280.0)
    decision = decide_after_epoch(2, 2, 0.2, patience=2, train_seconds=20.0, **limits)
    assert not decision.carry_on
    assert decision.timeout
    assert "310" in decision.reason  # 280 s elapsed + a 30 s mean epoch


def test_degenerate_when_all_empty():
    reason = degenerate_reason({"1": "", "2": " "}, 0.0, 1, 0.1, 0.5)
    assert reason is not None and "empty" in reason


def test_degenerate_when_all_identical():
    reason = degenerate_reason({"1": "a dog", "2": "a dog", "3": "a dog"}, 0.3, 2, 0.1, 0.5)
    assert reason is not None
    assert "'a dog'" in reason
    assert "all 3" in reason


def test_degenerate_below_floor_names_figures():
    reason = degenerate_reason({"1": "a dog", "2": "a cat"}, 0.03, 2, 0.1, 0.5)
    assert reason is not None
    assert "0.0300" in reason
    assert "0.1000" in reason
    assert "0.0500" in reason


def test_weak_but_varied_model_is_not_degenerate():
    assert degenerate_reason({"1": "a dog", "2": "a cat"}, 0.06, 2, 0.1, 0.5) is None
    assert degenerate_reason({"1": "a dog", "2": "a cat"}, 0.0, 2, 0.1, 0.0) is None
    assert degenerate_reason({"1": "a dog", "2": "a cat"}, 0.0, 2, None, 0.5) is None


def test_constant_bleu4_uses_manifest_for_whole_split():
    manifest = {"constant_caption": {"caption": "a red square", "val_bleu4": 0.25}}
    assert constant_caption_bleu4(manifest, {"1": ["a blue circle"]}, whole_split=True) == 0.25


def test_constant_bleu4_rescored_on_subset():
    manifest = {"constant_caption": {"caption": "a red square on the left", "val_bleu4": 0.25}}
    references = {"1": ["a red square on the left"], "2": ["a red square on the left side"]}
    assert constant_caption_bleu4(manifest, references, whole_split=False) > 0.5
    assert constant_caption_bleu4({}, references, whole_split=False) is None
