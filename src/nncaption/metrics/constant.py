"""The best constant caption: one caption emitted for every image, chosen for corpus BLEU-4.

It is the score a model reaches without looking at the image, so it is the floor a
captioner must beat. Corpus BLEU sums integer statistics over images, and for a constant
caption those sums factor: the clipped matches of an n-gram that occurs c times in the
caption are sum over j = 1..c of (number of images whose references contain it at least j
times), and the summed reference length depends only on the caption length. Both tables
are built once, so each candidate costs only its own n-grams.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence

import numpy as np

from nncaption.errors import DataError
from nncaption.metrics.bleu import (
    MAX_ORDER,
    BleuStats,
    bleu_from_stats,
    closest_length,
)
from nncaption.metrics.evaluation import check_inputs
from nncaption.metrics.ngrams import CaptionSet, OrderCounts, counting_tokens, lookup_ngrams
from nncaption.metrics.tokenizer import tokenize_cached

__all__ = ["ConstantCaptionScorer", "best_constant_caption"]

log = logging.getLogger(__name__)


class ConstantCaptionScorer:
    """Scores candidate constant captions by corpus BLEU-4 against fixed references."""

    def __init__(self, references: Mapping[Hashable, Sequence[str]]) -> None:
        checked, _ = check_inputs(references, {image_id: "" for image_id in references})
        tokenized = {
            image_id: [tokenize_cached(c) for c in captions]
            for image_id, captions in checked.items()
        }
        self.captions = CaptionSet(tokenized, {image_id: () for image_id in tokenized})
        self.image_count = self.captions.image_count
        self.max_counts = [
            _max_counts_by_ngram(self.captions, order) for order in self.captions.orders
        ]

        # Images grouped by their tuple of reference lengths, for the summed closest length.
        lengths = self.captions.lengths[: self.captions.reference_count].tolist()
        self.length_profiles: Counter = Counter()
        start = 0
        for count in self.captions.references_per_image.tolist():
            self.length_profiles[tuple(lengths[start : start + count])] += 1
            start += count
        self.reference_length_cache: dict[int, int] = {}

    def summed_reference_length(self, hypothesis_length: int) -> int:
        total = self.reference_length_cache.get(hypothesis_length)
        if total is None:
            total = sum(
                images * closest_length(lengths, hypothesis_length)
                for lengths, images in self.length_profiles.items()
            )
            self.reference_length_cache[hypothesis_length] = total
        return total

    def stats(self, caption: str) -> BleuStats:
        """Return the corpus BLEU statistics of `caption` emitted for every image."""
        tokens = tokenize_cached(caption)
        correct = [0] * MAX_ORDER
        for k, ngram_ids in enumerate(lookup_ngrams(self.captions, tokens)):
            max_counts, starts, ends = self.max_counts[k]
            for ngram, count in Counter(ngram_ids).items():
                if ngram < 0:
                    continue
                if count == 1:
                    # Every image whose references contain the n-gram contributes one match.
                    correct[k] += int(ends[ngram] - starts[ngram])
                else:
                    correct[k] += int(
                        np.minimum(max_counts[starts[ngram] : ends[ngram]], count).sum()
                    )

        length = len(counting_tokens(tokens))
        guess = [self.image_count * max(0, length - k + 1) for k in range(1, MAX_ORDER + 1)]
        return BleuStats(
            self.image_count * length, self.summed_reference_length(length), correct, guess
        )

    def bleu4(self, caption: str) -> float:
        """Return the corpus BLEU-4 of `caption` emitted for every image."""
        return bleu_from_stats(self.stats(caption))[MAX_ORDER - 1]


def _max_counts_by_ngram(
    captions: CaptionSet, order: OrderCounts
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (max reference counts sorted by n-gram id, start and end of each n-gram's run).

    One entry per (image, n-gram): the highest count of the n-gram in one reference of the image.
    """
    keys = captions.reference_image[order.caption] * order.size + order.ngram
    sort = np.lexsort((order.count, keys))
    keys = keys[sort]
    last = np.ones(len(keys), dtype=bool)
    last[:-1] = keys[1:] != keys[:-1]
    ngrams = keys[last] % max(order.size, 1)
    max_counts = order.count[sort][last]

    by_ngram = np.argsort(ngrams, kind="stable")
    ngrams = ngrams[by_ngram]
    all_ids = np.arange(order.size)
    return (
        max_counts[by_ngram],
        np.searchsorted(ngrams, all_ids),
        np.searchsorted(ngrams, all_ids, side="right"),
    )


def best_constant_caption(
    references: Mapping[Hashable, Sequence[str]], candidates: Sequence[str]
) -> tuple[str, float]:
    """Return the candidate with the highest corpus BLEU-4 when emitted for every image, and that BLEU-4.

    The BLEU-4 equals `evaluate(references, {image: caption for every image})["Bleu_4"]`.
    On a tie the earlier candidate wins. Raises DataError for no candidates or a
    non-string candidate, and for invalid references as `evaluate` does.
    """
    if isinstance(candidates, str) or not candidates:
        raise DataError(f"expected a non-empty list of candidate captions, found {candidates!r}")
    for candidate in candidates:
        if not isinstance(candidate, str):
            raise DataError(
                f"candidate captions must be strings, found {type(candidate).__name__}: {candidate!r}"
            )

    scorer = ConstantCaptionScorer(references)
    best_caption, best_score = candidates[0], scorer.bleu4(candidates[0])
    for candidate in candidates[1:]:
        score = scorer.bleu4(candidate)
        if score > best_score:
            best_caption, best_score = candidate, score
    log.debug(
        "best constant caption of %d candidates: %r (BLEU-4 %.4f)",
        len(candidates),
        best_caption,
        best_score,
    )
    return best_caption, best_score
