"""N-gram counts of a whole evaluation set as numpy arrays, shared by BLEU and CIDEr-D.

Counting n-grams caption by caption with Python dicts dominates the cost of the COCO metrics.
Here every token gets an integer id, every n-gram a dense integer id (built order by order
from the (n-1)-gram id and the next token id), and the counts per (caption, n-gram) come from
one sort per order. The metrics then work on whole arrays.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

__all__ = ["MAX_ORDER", "CaptionSet", "OrderCounts", "counting_tokens", "lookup_ngrams"]

MAX_ORDER = 4
# Whitespace other than the plain space, e.g. the no-break space inside "1\u00a01/2".
_INNER_SPACE = re.compile(r"[^\S ]")


def counting_tokens(tokens: Sequence[str]) -> Sequence[str]:
    """Return the tokens as pycocoevalcap's BLEU and CIDEr see them.

    They split the tokenized caption with `str.split()`, which also splits at a no-break
    space inside a PTB token ("1\u00a01/2"); ROUGE-L and METEOR see the tokens unchanged.
    """
    joined = " ".join(tokens)
    return joined.split() if _INNER_SPACE.search(joined) else tokens


@dataclass(frozen=True)
class OrderCounts:
    """Counts of the n-grams of one order, one entry per (caption, n-gram), sorted by both."""

    caption: np.ndarray  # int64 caption index
    ngram: np.ndarray  # int64 dense n-gram id, below `size`
    count: np.ndarray  # int64 occurrences of the n-gram in the caption
    size: int  # number of distinct n-grams of this order


class CaptionSet:
    """Tokenized references and hypotheses of the scored images, with n-gram counts on demand.

    Captions are numbered references first (image by image, in hypothesis image order), then
    one hypothesis per image: caption `reference_count + i` is the hypothesis of image i.
    """

    def __init__(
        self,
        references: Mapping[Hashable, Sequence[Sequence[str]]],
        hypotheses: Mapping[Hashable, Sequence[str]],
    ):
        self.references_by_image = references
        self.hypotheses_by_image = hypotheses
        self.image_ids = list(hypotheses)
        self.references = [references[image_id] for image_id in self.image_ids]
        self.hypotheses = [hypotheses[image_id] for image_id in self.image_ids]
        self.image_count = len(self.image_ids)
        self.references_per_image = np.array(
            [len(refs) for refs in self.references], dtype=np.int64
        )
        self.reference_count = int(self.references_per_image.sum())
        # Image index of every reference caption.
        self.reference_image = np.repeat(
            np.arange(self.image_count, dtype=np.int64), self.references_per_image
        )

    @cached_property
    def _token_ids(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (token ids of all captions concatenated, caption lengths)."""
        captions = [counting_tokens(c) for refs in self.references for c in refs]
        captions += [counting_tokens(h) for h in self.hypotheses]
        lengths = np.fromiter(
            (len(caption) for caption in captions), dtype=np.int64, count=len(captions)
        )
        # A new token gets the next id: the factory runs before the token is inserted.
        vocabulary: defaultdict[str, int] = defaultdict()
        vocabulary.default_factory = vocabulary.__len__
        tokens = itertools.chain.from_iterable(captions)
        ids = np.fromiter(
            map(vocabulary.__getitem__, tokens), dtype=np.int64, count=int(lengths.sum())
        )
        vocabulary.default_factory = None
        self.vocabulary: dict[str, int] = vocabulary
        return ids, lengths

    @property
    def lengths(self) -> np.ndarray:
        """Token count of every caption as BLEU and CIDEr count them."""
        return self._token_ids[1]

    @cached_property
    def orders(self) -> list[OrderCounts]:
        """Counts of the 1- to 4-grams of every caption."""
        ids, lengths = self._token_ids
        caption_of_token = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
        starts = np.cumsum(lengths) - lengths
        # Tokens from each position to the end of its caption: a k-gram starts where this is >= k.
        remaining = lengths[caption_of_token] - (
            np.arange(len(ids), dtype=np.int64) - starts[caption_of_token]
        )
        vocabulary_size = int(ids.max()) + 1 if len(ids) else 0

        orders = []
        # Sorted n-gram codes per order; the dense id of an n-gram is its index here.
        self.ngram_codes = [np.arange(vocabulary_size, dtype=np.int64)]
        positions = np.arange(len(ids), dtype=np.int64)
        ngram_ids = ids
        size = vocabulary_size
        for k in range(1, MAX_ORDER + 1):
            if k > 1:
                # A k-gram is the (k-1)-gram at the same start followed by one more token.
                keep = remaining[positions] >= k
                positions = positions[keep]
                codes = ngram_ids[keep] * max(vocabulary_size, 1) + ids[positions + k - 1]
                unique_codes, ngram_ids = np.unique(codes, return_inverse=True)
                ngram_ids = ngram_ids.astype(np.int64).reshape(-1)
                size = len(unique_codes)
                self.ngram_codes.append(unique_codes)
            orders.append(_count_per_caption(caption_of_token[positions], ngram_ids, size))
        return orders


def lookup_ngrams(captions: CaptionSet, tokens: Sequence[str]) -> list[list[int]]:
    """Return the dense ids of a caption's 1- to 4-grams in `captions`, -1 for unseen ones.

    The caption need not belong to the set; constant captions are scored this way.
    """
    captions.orders  # noqa: B018  (builds the vocabulary and the n-gram codes)
    vocabulary_size = max(len(captions.vocabulary), 1)
    token_ids = [captions.vocabulary.get(token, -1) for token in counting_tokens(tokens)]
    ids_per_order = [token_ids]
    previous = token_ids
    for k in range(2, MAX_ORDER + 1):
        codes = captions.ngram_codes[k - 1]
        current = []
        for start in range(len(token_ids) - k + 1):
            prefix, last = previous[start], token_ids[start + k - 1]
            if prefix < 0 or last < 0:
                current.append(-1)
                continue
            code = prefix * vocabulary_size + last
            index = int(np.searchsorted(codes, code))
            current.append(index if index < len(codes) and codes[index] == code else -1)
        ids_per_order.append(current)
        previous = current
    return ids_per_order


def _count_per_caption(caption: np.ndarray, ngram: np.ndarray, size: int) -> OrderCounts:
    if size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return OrderCounts(empty, empty, empty, 0)
    keys, counts = np.unique(caption * size + ngram, return_counts=True)
    return OrderCounts(keys // size, keys % size, counts.astype(np.int64), size)
