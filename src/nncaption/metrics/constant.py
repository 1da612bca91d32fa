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

from nncaption.errors import DataError
from nncaption.metrics.base import ngram_counts
from nncaption.metrics.bleu import MAX_ORDER, BleuStats, bleu_from_stats, closest_length, reference_stats
from nncaption.metrics.evaluation import check_inputs
from nncaption.metrics.tokenizer import tokenize_cached

__all__ = ["ConstantCaptionScorer", "best_constant_caption"]

log = logging.getLogger(__name__)


class ConstantCaptionScorer:
    """Scores candidate constant captions by corpus BLEU-4 against fixed references."""

    def __init__(self, references: Mapping[Hashable, Sequence[str]]) -> None:
        checked, _ = check_inputs(references, {image_id: "" for image_id in references})
        self.image_count = len(checked)

        # images_with_at_least[ngram][j] = images whose max reference count of ngram is > j.
        self.images_with_at_least: dict[object, list[int]] = {}
        length_profiles: Counter = Counter()
        for captions in checked.values():
            stats = reference_stats([tokenize_cached(caption) for caption in captions])
            length_profiles[stats.lengths] += 1
            for maxima in stats.max_counts:
                for ngram, max_count in maxima.items():
                    counts = self.images_with_at_least.setdefault(ngram, [])
                    counts.extend([0] * (max_count - len(counts)))
                    for j in range(max_count):
                        counts[j] += 1

        self.length_profiles = length_profiles
        self.reference_length_cache: dict[int, int] = {}

    def summed_reference_length(self, hypothesis_length: int) -> int:
        total = self.reference_length_cache.get(hypothesis_length)
        if total is None:
            total = sum(images * closest_length(lengths, hypothesis_length)
                        for lengths, images in self.length_profiles.items())
            self.reference_length_cache[hypothesis_length] = total
        return total

    def stats(self, caption: str) -> BleuStats:
        """Return the corpus BLEU statistics of `caption` emitted for every image."""
        tokens = tokenize_cached(caption)
        correct = [0] * MAX_ORDER
        for k, order_counts in enumerate(ngram_counts(tokens)):
            for ngram, count in order_counts.items():
                counts = self.images_with_at_least.get(ngram)
                if counts is not None:
                    correct[k] += sum(counts[:count])

        length = len(tokens)
        guess = [self.image_count * max(0, length - k + 1) for k in range(1, MAX_ORDER + 1)]
        return BleuStats(self.image_count * length, self.summed_reference_length(length), correct, guess)

    def bleu4(self, caption: str) -> float:
        """Return the corpus BLEU-4 of `caption` emitted for every image."""
        return bleu_from_stats(self.stats(caption))[MAX_ORDER - 1]


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
            raise DataError(f"candidate captions must be strings, found {type(candidate).__name__}: {candidate!r}")

    scorer = ConstantCaptionScorer(references)
    best_caption, best_score = candidates[0], scorer.bleu4(candidates[0])
    for candidate in candidates[1:]:
        score = scorer.bleu4(candidate)
        if score > best_score:
            best_caption, best_score = candidate, score
    log.debug("best constant caption of %d candidates: %r (BLEU-4 %.4f)", len(candidates), best_caption, best_score)
    return best_caption, best_score
