"""The parent's rules of the trial protocol: when to stop training, and when a trained model is degenerate.

Pure functions over scored epochs, so the search, `nncaption train` and the tests all
apply the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nncaption.metrics import evaluate

SELECTION_METRIC = "Bleu_4"  # the val score that selects the epoch and drives early stopping


@dataclass(frozen=True)
class StopDecision:
    """The parent's verdict after one epoch; `timeout` marks a stop for time rather than for patience."""

    carry_on: bool
    reason: str = ""
    timeout: bool = False


def decide_after_epoch(
    epoch: int,
    best_epoch: int,
    best_score: float,
    patience: int,
    train_seconds: float,
    epoch_time_limit_s: float,
    elapsed_s: float,
    mean_epoch_s: float,
    trial_limit_s: float,
) -> StopDecision:
    """Decide whether training continues after `epoch`.

    Stops for time when the epoch's training took longer than the per-epoch limit, or when
    one more epoch of the mean measured length (training, decoding and scoring) would end
    past the trial's wall-clock limit. Stops for patience when `patience` epochs in a row
    brought no better val score; patience 0 never stops early.
    """
    if epoch_time_limit_s > 0 and train_seconds > epoch_time_limit_s:
        return StopDecision(False, f"epoch {epoch} trained in {train_seconds:.1f} s, over the per-epoch limit of "
                                   f"{epoch_time_limit_s:.1f} s", timeout=True)
    projected = elapsed_s + mean_epoch_s
    if projected > trial_limit_s:
        return StopDecision(False, f"projected end of epoch {epoch + 1} at {projected:.0f} s (mean epoch {mean_epoch_s:.1f} s) "
                                   f"is past the trial limit of {trial_limit_s:.0f} s", timeout=True)
    if patience > 0 and epoch - best_epoch >= patience:
        return StopDecision(False, f"early stopping: no better val BLEU-4 in {epoch - best_epoch} epochs "
                                   f"(best {best_score:.4f} at epoch {best_epoch}, patience {patience})")
    return StopDecision(True)


def constant_caption_bleu4(manifest: Mapping, references: Mapping[str, Sequence[str]], whole_split: bool) -> float | None:
    """Val BLEU-4 of the prepared data's best constant caption on the trial's val images.

    The manifest stores the figure for the whole val split; a subset is rescored with the
    same caption. Returns None when the manifest has no constant caption.
    """
    constant = manifest.get("constant_caption")
    if not constant:
        return None
    if whole_split or not constant.get("caption"):
        return float(constant["val_bleu4"])
    return evaluate(references, {k: constant["caption"] for k in references}, ["bleu"])[SELECTION_METRIC]


def degenerate_reason(hypotheses: Mapping[str, str], best_score: float, best_epoch: int,
                      constant_bleu4: float | None, floor: float) -> str | None:
    """Why the val-selected epoch is degenerate, with the measured figures; None when it is not."""
    captions = [c.strip() for c in hypotheses.values()]
    if captions and not any(captions):
        return f"all {len(captions)} val hypotheses of epoch {best_epoch} are empty"
    if len(captions) > 1 and len(set(captions)) == 1:
        return f"all {len(captions)} val hypotheses of epoch {best_epoch} are the same caption {captions[0]!r}"
    if constant_bleu4 is not None and floor > 0 and best_score < floor * constant_bleu4:
        return (f"best val BLEU-4 {best_score:.4f} (epoch {best_epoch}) is below {floor:g} x the constant caption's "
                f"val BLEU-4 {constant_bleu4:.4f} = {floor * constant_bleu4:.4f}")
    return None
