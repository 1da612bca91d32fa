"""`lemur_bleu4`: the number the LEMUR/nn-gpt reference system reports, for comparison only.

It is the mean over images of sentence-level BLEU-4 as NLTK's `sentence_bleu` computes it
(NLTK 3.x, uniform weights, `SmoothingFunction().method1`, epsilon 0.1). It is not the COCO
BLEU-4: that one sums statistics over the corpus before the geometric mean. Here it is
computed on the COCO-tokenized captions; the reference system computes it on vocabulary
token ids with the start and end tokens left in, so the two still differ a little.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from nncaption.metrics.base import (
    Metric,
    MetricScore,
    TokenizedHypotheses,
    TokenizedReferences,
    ngram_counts,
    register_metric,
)

__all__ = ["LemurBleu4Metric", "sentence_bleu4"]

_WEIGHT = 0.25
_EPSILON = 0.1


def sentence_bleu4(hypothesis: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Return NLTK's sentence BLEU-4 with smoothing method 1 for one hypothesis."""
    numerators = []
    denominators = []
    reference_counts = [ngram_counts(reference) for reference in references]
    for k, counts in enumerate(ngram_counts(hypothesis)):
        matched = 0
        for ngram, count in counts.items():
            matched += min(count, max(ref[k].get(ngram, 0) for ref in reference_counts))
        numerators.append(matched)
        denominators.append(max(1, sum(counts.values())))

    if numerators[0] == 0:
        return 0.0

    # Method 1: a precision with no match becomes epsilon / count instead of 0.
    precisions = [
        num / den if num else _EPSILON / den
        for num, den in zip(numerators, denominators, strict=True)
    ]
    log_mean = math.fsum(_WEIGHT * math.log(p) for p in precisions if p > 0)

    hyp_len = len(hypothesis)
    closest = min(
        (len(reference) for reference in references),
        key=lambda length: (abs(length - hyp_len), length),
    )
    penalty = 1.0 if hyp_len > closest else math.exp(1 - closest / hyp_len)
    return penalty * math.exp(log_mean)


@register_metric
class LemurBleu4Metric(Metric):
    """Mean sentence BLEU-4 (NLTK, smoothing method 1): the LEMUR-style number, not a COCO score."""

    name = "lemur_bleu4"
    score_names = ("lemur_bleu4",)

    def compute_score(
        self, references: TokenizedReferences, hypotheses: TokenizedHypotheses
    ) -> dict[str, MetricScore]:
        per_image = [
            sentence_bleu4(hypothesis, references[image_id])
            for image_id, hypothesis in hypotheses.items()
        ]
        value = math.fsum(per_image) / len(per_image)
        return {"lemur_bleu4": MetricScore("lemur_bleu4", value, tuple(per_image))}
