"""CIDEr-D with the values of pycocoevalcap 1.2's `Cider` scorer (reported as "CIDEr").

Each caption becomes TF-IDF vectors of its 1- to 4-grams, with document frequencies counted
over the references of the evaluated images (so the score of one image depends on the whole
set). Per image and n-gram order: the cosine similarity of the hypothesis with each
reference, with the hypothesis weights clipped at the reference weights and a Gaussian
penalty on the length difference (sigma = 6). Orders are averaged, references averaged, and
the result multiplied by 10, which is the scale COCO reports.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence

import numpy as np

from nncaption.metrics.base import (
    Metric,
    MetricScore,
    Tokens,
    TokenizedHypotheses,
    TokenizedReferences,
    ngram_counts,
    register_metric,
)

__all__ = ["CiderDMetric", "document_frequencies"]

MAX_ORDER = 4
SIGMA = 6.0

# One caption as CIDEr sees it: TF-IDF weights per order, their L2 norms, and the bigram count.
_Vector = tuple[list[dict], list[float], int]


def document_frequencies(references: Mapping[Hashable, Sequence[Tokens]]) -> Counter:
    """Count, for every n-gram, the images with at least one reference containing it."""
    frequencies: Counter = Counter()
    for captions in references.values():
        seen: set = set()
        for caption in captions:
            for counts in ngram_counts(caption):
                seen.update(counts)
        frequencies.update(seen)
    return frequencies


class _Vectorizer:
    """Turns captions into TF-IDF vectors with one norm per n-gram order."""

    def __init__(self, frequencies: Counter, image_count: int) -> None:
        self.log_image_count = float(np.log(float(image_count)))
        ngrams = list(frequencies)
        # An n-gram in no reference counts as if in one: log(max(1, df)) = 0.
        logs = np.log(np.maximum(1.0, np.array([frequencies[g] for g in ngrams], dtype=np.float64)))
        self.idf = dict(zip(ngrams, (self.log_image_count - logs).tolist()))

    def vector(self, tokens: Tokens) -> _Vector:
        idf = self.idf
        default = self.log_image_count
        weights = []
        norms = []
        all_counts = ngram_counts(tokens)
        for counts in all_counts:
            order_weights = {ngram: float(count) * idf.get(ngram, default) for ngram, count in counts.items()}
            squares = 0.0
            for weight in order_weights.values():
                squares += pow(weight, 2)
            weights.append(order_weights)
            norms.append(math.sqrt(squares))
        # pycocoevalcap's "length" for the penalty is the bigram count (its n == 1).
        return weights, norms, sum(all_counts[1].values())


def _similarity(hypothesis: _Vector, reference: _Vector) -> list[float]:
    """Clipped cosine similarity per n-gram order, times the length penalty."""
    hyp_weights, hyp_norms, hyp_length = hypothesis
    ref_weights, ref_norms, ref_length = reference
    delta = float(hyp_length - ref_length)
    penalty = np.e ** (-(delta**2) / (2 * SIGMA**2))

    values = []
    for k in range(MAX_ORDER):
        value = 0.0
        order_ref = ref_weights[k]
        for ngram, hyp_weight in hyp_weights[k].items():
            ref_weight = order_ref.get(ngram)
            if ref_weight is not None:
                value += min(hyp_weight, ref_weight) * ref_weight
        if hyp_norms[k] != 0 and ref_norms[k] != 0:
            value /= hyp_norms[k] * ref_norms[k]
        values.append(value * penalty)
    return values


@register_metric
class CiderDMetric(Metric):
    """CIDEr-D (Vedantam et al. 2015) as the COCO evaluation computes it, on the 0-10 scale."""

    name = "cider"
    score_names = ("CIDEr",)

    def compute_score(
        self, references: TokenizedReferences, hypotheses: TokenizedHypotheses
    ) -> dict[str, MetricScore]:
        scored_references = {image_id: references[image_id] for image_id in hypotheses}
        vectorizer = _Vectorizer(document_frequencies(scored_references), len(scored_references))

        per_image = []
        for image_id, hypothesis in hypotheses.items():
            hyp_vector = vectorizer.vector(hypothesis)
            totals = [0.0] * MAX_ORDER
            for reference in scored_references[image_id]:
                similarity = _similarity(hyp_vector, vectorizer.vector(reference))
                totals = [total + value for total, value in zip(totals, similarity)]
            # Mean over orders, mean over references, times 10 (numpy keeps pycocoevalcap's rounding).
            per_image.append(float(np.mean(np.array(totals))) / len(scored_references[image_id]) * 10.0)

        value = float(np.mean(np.array(per_image)))
        return {"CIDEr": MetricScore("CIDEr", value, tuple(per_image))}
