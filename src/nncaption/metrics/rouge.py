"""ROUGE-L with the values of pycocoevalcap 1.2's `Rouge` scorer.

Per image: the longest common subsequence (LCS) of the hypothesis with each reference gives
a precision and a recall; the maximum precision and maximum recall over the references are
combined into an F-measure with beta = 1.2. The corpus score is the mean over images.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nncaption.metrics.base import (
    Metric,
    MetricScore,
    TokenizedHypotheses,
    TokenizedReferences,
    register_metric,
)

__all__ = ["BETA", "RougeLMetric", "lcs_length", "rouge_l"]

# pycocoevalcap's beta: recall weighs 1.2 times as much as precision.
BETA = 1.2


def _match_masks(tokens: Sequence[str]) -> dict[str, int]:
    """Map each token to a bit mask of its positions in `tokens`."""
    masks: dict[str, int] = {}
    for i, token in enumerate(tokens):
        masks[token] = masks.get(token, 0) | (1 << i)
    return masks


def _lcs_with_masks(masks: dict[str, int], length: int, other: Sequence[str]) -> int:
    # Bit-parallel LCS (Crochemore et al., 2001). Bit i of `row` is position i of the masked
    # sequence, and each token of `other` updates the whole row with a few integer operations.
    full = (1 << length) - 1
    row = full
    for token in other:
        matches = row & masks.get(token, 0)
        row = ((row + matches) | (row - matches)) & full
    return length - row.bit_count()


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Return the length of the longest common subsequence of two token lists."""
    return _lcs_with_masks(_match_masks(a), len(a), b)


def _split_tokens(tokens: Sequence[str]) -> Sequence[str]:
    # pycocoevalcap splits the joined caption on " ", so an empty caption is one empty token.
    return tokens if tokens else ("",)


def rouge_l(hypothesis: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Return the ROUGE-L F-measure of one hypothesis against its references."""
    candidate = _split_tokens(hypothesis)
    candidate_masks = _match_masks(candidate)
    precision_max = 0.0
    recall_max = 0.0
    for reference in references:
        reference = _split_tokens(reference)
        lcs = _lcs_with_masks(candidate_masks, len(candidate), reference)
        precision_max = max(precision_max, lcs / float(len(candidate)))
        recall_max = max(recall_max, lcs / float(len(reference)))

    if precision_max == 0 or recall_max == 0:
        return 0.0
    return ((1 + BETA**2) * precision_max * recall_max) / float(
        recall_max + BETA**2 * precision_max
    )


@register_metric
class RougeLMetric(Metric):
    """ROUGE-L (Lin 2004), F-measure of the best LCS precision and recall per image."""

    name = "rouge_l"
    score_names = ("ROUGE_L",)

    def compute_score(
        self, references: TokenizedReferences, hypotheses: TokenizedHypotheses
    ) -> dict[str, MetricScore]:
        per_image = [
            rouge_l(hypothesis, references[image_id]) for image_id, hypothesis in hypotheses.items()
        ]
        value = float(np.mean(np.array(per_image)))
        return {"ROUGE_L": MetricScore("ROUGE_L", value, tuple(per_image))}
