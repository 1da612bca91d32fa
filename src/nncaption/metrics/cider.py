"""CIDEr-D with the values of pycocoevalcap 1.2's `Cider` scorer (reported as "CIDEr").

Each caption becomes TF-IDF vectors of its 1- to 4-grams, with document frequencies counted
over the references of the evaluated images (so the score of one image depends on the whole
set). Per image and n-gram order: the cosine similarity of the hypothesis with each
reference, with the hypothesis weights clipped at the reference weights and a Gaussian
penalty on the length difference (sigma = 6). Orders are averaged, references averaged, and
the result multiplied by 10, which is the scale COCO reports.
"""

from __future__ import annotations

import numpy as np

from nncaption.metrics.base import (
    Metric,
    MetricScore,
    TokenizedHypotheses,
    TokenizedReferences,
    register_metric,
)
from nncaption.metrics.ngrams import CaptionSet, OrderCounts

__all__ = ["CiderDMetric"]

MAX_ORDER = 4
SIGMA = 6.0


@register_metric
class CiderDMetric(Metric):
    """CIDEr-D (Vedantam et al. 2015) as the COCO evaluation computes it, on the 0-10 scale."""

    name = "cider"
    score_names = ("CIDEr",)

    def compute_score(
        self, references: TokenizedReferences, hypotheses: TokenizedHypotheses
    ) -> dict[str, MetricScore]:
        return self.score_captions(CaptionSet(references, hypotheses))

    def score_captions(self, captions: CaptionSet) -> dict[str, MetricScore]:
        # Per image and order: the similarities summed over its references, in reference order.
        order_sums = [_order_similarity_sums(captions, order) for order in captions.orders]

        # Mean over orders, mean over references, times 10, with pycocoevalcap's rounding order.
        total = ((order_sums[0] + order_sums[1]) + order_sums[2]) + order_sums[3]
        per_image = total / MAX_ORDER / captions.references_per_image * 10.0
        value = float(np.mean(per_image))
        return {"CIDEr": MetricScore("CIDEr", value, tuple(per_image.tolist()))}


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    # np.unique without return_* takes a hash-table path in numpy 2.3 that is far slower here.
    ordered = np.sort(values)
    keep = np.ones(len(ordered), dtype=bool)
    keep[1:] = ordered[1:] != ordered[:-1]
    return ordered[keep]


def _length_penalties(captions: CaptionSet) -> np.ndarray:
    """Gaussian penalty of every reference on its bigram-count difference to the hypothesis."""
    # pycocoevalcap's "length" is the bigram count (its n == 1), max(0, tokens - 1).
    bigrams = np.maximum(captions.lengths - 1, 0)
    delta = (
        bigrams[captions.reference_count + captions.reference_image]
        - bigrams[: captions.reference_count]
    )
    unique_deltas, index = np.unique(delta, return_inverse=True)
    # Python floats, as pycocoevalcap computes each penalty.
    penalties = [np.e ** (-(float(d) ** 2) / (2 * SIGMA**2)) for d in unique_deltas.tolist()]
    return np.array(penalties, dtype=np.float64)[index.reshape(-1)]


def _order_similarity_sums(captions: CaptionSet, order: OrderCounts) -> np.ndarray:
    """Return per image the penalised clipped cosine similarities of one order, summed over references."""
    reference_count = captions.reference_count
    is_reference = order.caption < reference_count
    reference_caption = order.caption[is_reference]
    reference_keys = (
        captions.reference_image[reference_caption] * order.size + order.ngram[is_reference]
    )

    # Document frequency: the images whose references contain the n-gram.
    frequencies = np.bincount(
        _sorted_unique(reference_keys) % max(order.size, 1), minlength=order.size
    )
    log_image_count = float(np.log(float(captions.image_count)))
    idf = log_image_count - np.log(np.maximum(1.0, frequencies.astype(np.float64)))
    weights = order.count * idf[order.ngram]
    norms = np.sqrt(
        np.bincount(order.caption, weights=weights * weights, minlength=len(captions.lengths))
    )

    # Clipped dot product: each reference n-gram against the same n-gram in its image's hypothesis.
    hypothesis_keys = (order.caption[~is_reference] - reference_count) * order.size + order.ngram[
        ~is_reference
    ]
    hypothesis_weights = weights[~is_reference]
    reference_weights = weights[is_reference]
    dots = np.zeros(reference_count, dtype=np.float64)
    if len(hypothesis_keys):
        found = np.minimum(
            np.searchsorted(hypothesis_keys, reference_keys), len(hypothesis_keys) - 1
        )
        hit = hypothesis_keys[found] == reference_keys
        products = (
            np.minimum(hypothesis_weights[found[hit]], reference_weights[hit])
            * reference_weights[hit]
        )
        # bincount returns integers when no n-gram matched, so convert.
        dots = np.bincount(
            reference_caption[hit], weights=products, minlength=reference_count
        ).astype(np.float64)

    hypothesis_norms = norms[reference_count + captions.reference_image]
    reference_norms = norms[:reference_count]
    denominators = hypothesis_norms * reference_norms
    similarities = np.divide(dots, denominators, out=dots.copy(), where=denominators != 0)
    similarities = similarities * _length_penalties(captions)
    return np.bincount(
        captions.reference_image, weights=similarities, minlength=captions.image_count
    )
