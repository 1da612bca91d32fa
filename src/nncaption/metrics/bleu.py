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

import numpy as np

from nncaption.metrics.base import (
    Metric,
    MetricScore,
    TokenizedHypotheses,
    TokenizedReferences,
    register_metric,
)
from nncaption.metrics.ngrams import CaptionSet, OrderCounts

__all__ = ["BleuMetric", "BleuStats", "bleu_from_stats", "closest_length", "sum_stats"]

MAX_ORDER = 4
# pycocoevalcap's guards: added to every denominator (_SMALL) and numerator (_TINY).
_SMALL = 1e-9
_TINY = 1e-15


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
        return self.score_captions(CaptionSet(references, hypotheses))

    def score_captions(self, captions: CaptionSet) -> dict[str, MetricScore]:
        all_stats = image_stats_from_counts(captions)
        per_image = [bleu_from_stats(stats) for stats in all_stats]
        corpus = bleu_from_stats(sum_stats(all_stats))
        return {
            score_name: MetricScore(score_name, corpus[k], tuple(scores[k] for scores in per_image))
            for k, score_name in enumerate(self.score_names)
        }


def _clipped_matches(captions: CaptionSet, order: OrderCounts) -> np.ndarray:
    """Return per image the hypothesis n-gram matches, clipped at the max count in one reference."""
    is_reference = order.caption < captions.reference_count
    reference_keys = (
        captions.reference_image[order.caption[is_reference]] * order.size
        + order.ngram[is_reference]
    )
    reference_counts = order.count[is_reference]

    # The highest count per (image, n-gram): sort by key, then count, and keep each key's last entry.
    sort = np.lexsort((reference_counts, reference_keys))
    reference_keys = reference_keys[sort]
    reference_counts = reference_counts[sort]
    last = np.ones(len(reference_keys), dtype=bool)
    last[:-1] = reference_keys[1:] != reference_keys[:-1]
    max_keys = reference_keys[last]
    max_counts = reference_counts[last]

    hypothesis_image = order.caption[~is_reference] - captions.reference_count
    hypothesis_keys = hypothesis_image * order.size + order.ngram[~is_reference]
    found = np.searchsorted(max_keys, hypothesis_keys)
    found = np.minimum(found, max(len(max_keys) - 1, 0))
    matched = np.zeros(len(hypothesis_keys), dtype=np.int64)
    if len(max_keys):
        hit = max_keys[found] == hypothesis_keys
        matched[hit] = np.minimum(order.count[~is_reference][hit], max_counts[found[hit]])
    # Float sums of integers stay exact below 2**53.
    return np.bincount(hypothesis_image, weights=matched, minlength=captions.image_count).astype(
        np.int64
    )


def image_stats_from_counts(captions: CaptionSet) -> list[BleuStats]:
    """Return the BLEU statistics of every image, computed on whole arrays."""
    correct = [_clipped_matches(captions, order).tolist() for order in captions.orders]

    # Closest reference length: smallest |difference|, then the shorter reference.
    reference_lengths = captions.lengths[: captions.reference_count]
    hypothesis_lengths = captions.lengths[captions.reference_count :]
    scale = int(captions.lengths.max(initial=0)) + 1
    keys = (
        np.abs(reference_lengths - hypothesis_lengths[captions.reference_image]) * scale
        + reference_lengths
    )
    first_reference = np.cumsum(captions.references_per_image) - captions.references_per_image
    closest = (np.minimum.reduceat(keys, first_reference) % scale).tolist() if len(keys) else []

    all_stats = []
    for image, length in enumerate(hypothesis_lengths.tolist()):
        guess = [max(0, length - k + 1) for k in range(1, MAX_ORDER + 1)]
        image_correct = [correct[k][image] for k in range(MAX_ORDER)]
        all_stats.append(BleuStats(length, closest[image], image_correct, guess))
    return all_stats
