"""Corpus BLEU-1..4 with the values of pycocoevalcap 1.2's `Bleu(4)` scorer.

The COCO scorer sums clipped n-gram matches, n-gram counts, hypothesis lengths and
"closest" reference lengths over all images, then takes the geometric mean with a brevity
penalty. Its two guard constants (`_SMALL`, `_TINY`) keep empty hypotheses finite and are
part of the published numbers, so they are kept, and the float operations run in the same
order so the scores agree to the last digit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from nncaption.metrics.base import (
    Metric,
    MetricScore,
    Tokens,
    TokenizedHypotheses,
    TokenizedReferences,
    ngram_counts,
    register_metric,
)

__all__ = ["BleuMetric", "BleuStats", "ReferenceStats", "bleu_from_stats", "closest_length"]

MAX_ORDER = 4
# pycocoevalcap's guards: added to every denominator (_SMALL) and numerator (_TINY).
_SMALL = 1e-9
_TINY = 1e-15


@dataclass(frozen=True)
class ReferenceStats:
    """What BLEU needs from the references of one image."""

    lengths: tuple[int, ...]
    # Per n-gram order: n-gram -> highest count in any one reference.
    max_counts: list[dict]


def reference_stats(references: Sequence[Tokens]) -> ReferenceStats:
    max_counts: list[dict] = [{} for _ in range(MAX_ORDER)]
    for reference in references:
        for maxima, counts in zip(max_counts, ngram_counts(reference)):
            for ngram, count in counts.items():
                if count > maxima.get(ngram, 0):
                    maxima[ngram] = count
    return ReferenceStats(tuple(len(reference) for reference in references), max_counts)


def closest_length(reference_lengths: Sequence[int], hypothesis_length: int) -> int:
    """Return the reference length nearest the hypothesis length; the shorter one on a tie."""
    return min((abs(length - hypothesis_length), length) for length in reference_lengths)[1]


@dataclass
class BleuStats:
    """Sufficient statistics of BLEU for one image or, summed, for a corpus."""

    hypothesis_length: int
    reference_length: int
    correct: list[int]  # clipped matches per n-gram order
    guess: list[int]  # hypothesis n-grams per order


def image_stats(hypothesis: Tokens, refs: ReferenceStats) -> BleuStats:
    correct = []
    for maxima, counts in zip(refs.max_counts, ngram_counts(hypothesis)):
        matched = 0
        for ngram, count in counts.items():
            reference_count = maxima.get(ngram, 0)
            matched += count if count < reference_count else reference_count
        correct.append(matched)
    length = len(hypothesis)
    guess = [max(0, length - k + 1) for k in range(1, MAX_ORDER + 1)]
    return BleuStats(length, closest_length(refs.lengths, length), correct, guess)


def bleu_from_stats(stats: BleuStats) -> list[float]:
    """Return BLEU-1..n from (summed) statistics, as pycocoevalcap computes them."""
    n = len(stats.correct)
    scores = []
    product = 1.0
    for k in range(n):
        product *= (float(stats.correct[k]) + _TINY) / (float(stats.guess[k]) + _SMALL)
        scores.append(product ** (1.0 / (k + 1)))

    # Brevity penalty, applied to every order.
    ratio = (stats.hypothesis_length + _TINY) / (stats.reference_length + _SMALL)
    if ratio < 1:
        penalty = math.exp(1 - 1 / ratio)
        scores = [score * penalty for score in scores]
    return scores


def sum_stats(all_stats: Sequence[BleuStats], n: int = MAX_ORDER) -> BleuStats:
    total = BleuStats(0, 0, [0] * n, [0] * n)
    for stats in all_stats:
        total.hypothesis_length += stats.hypothesis_length
        total.reference_length += stats.reference_length
        for k in range(n):
            total.correct[k] += stats.correct[k]
            total.guess[k] += stats.guess[k]
    return total


@register_metric
class BleuMetric(Metric):
    """BLEU-1..4 (Papineni et al. 2002) with the COCO scorer's closest-reference-length rule."""

    name = "bleu"
    score_names = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4")

    def compute_score(
        self, references: TokenizedReferences, hypotheses: TokenizedHypotheses
    ) -> dict[str, MetricScore]:
        all_stats = [image_stats(hypothesis, reference_stats(references[image_id]))
                     for image_id, hypothesis in hypotheses.items()]
        per_image = [bleu_from_stats(stats) for stats in all_stats]
        corpus = bleu_from_stats(sum_stats(all_stats))
        return {
            score_name: MetricScore(score_name, corpus[k], tuple(scores[k] for scores in per_image))
            for k, score_name in enumerate(self.score_names)
        }
