"""CaptionSet's array n-gram counts against plain Counter counting."""

from __future__ import annotations

import random
from collections import Counter

from nncaption.metrics.ngrams import MAX_ORDER, CaptionSet


def counter_ngrams(tokens: tuple[str, ...], k: int) -> Counter:
    return Counter(tuple(tokens[i : i + k]) for i in range(len(tokens) - k + 1))


def test_counts_equal_counter_counts() -> None:
    rng = random.Random(9)
    words = ["a", "b", "c", "d"]
    references = {
        i: [tuple(rng.choice(words) for _ in range(rng.randint(0, 9))) for _ in range(3)]
        for i in range(6)
    }
    hypotheses = {i: tuple(rng.choice(words) for _ in range(rng.randint(0, 9))) for i in range(6)}
    captions = CaptionSet(references, hypotheses)
    all_captions = [c for i in hypotheses for c in references[i]] + list(hypotheses.values())

    for k in range(1, MAX_ORDER + 1):
        order = captions.orders[k - 1]
        expected = [counter_ngrams(tokens, k) for tokens in all_captions]
        assert order.size == len(set().union(*expected))

        counted: list[list[int]] = [[] for _ in all_captions]
        for caption, count in zip(order.caption.tolist(), order.count.tolist(), strict=True):
            counted[caption].append(count)
        for index, counts in enumerate(expected):
            assert sorted(counted[index]) == sorted(counts.values()), (k, all_captions[index])


def test_empty_captions_give_empty_counts() -> None:
    captions = CaptionSet({1: [()], 2: [()]}, {1: (), 2: ()})
    assert all(len(order.count) == 0 for order in captions.orders)
    assert captions.lengths.tolist() == [0, 0, 0, 0]
