"""best_constant_caption against brute-force evaluation of every candidate."""

from __future__ import annotations

import random
import time

import pytest

from nncaption.errors import DataError
from nncaption.metrics import ConstantCaptionScorer, best_constant_caption, evaluate

WORDS = ["a", "man", "dog", "the", "on", "riding", "red", "bus", "of", "two", "sitting", "table"]


def random_caption(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def test_scores_equal_evaluate_for_every_candidate() -> None:
    rng = random.Random(5)
    references = {
        image_id: [random_caption(rng, 1, 10) for _ in range(rng.randint(1, 6))]
        for image_id in range(25)
    }
    candidates = [random_caption(rng, 0, 8) for _ in range(40)] + ["", "A man riding a red bus."]
    scorer = ConstantCaptionScorer(references)
    for candidate in candidates:
        brute = evaluate(references, {image_id: candidate for image_id in references}, ["Bleu_4"])[
            "Bleu_4"
        ]
        assert scorer.bleu4(candidate) == brute, candidate


def test_best_candidate_is_the_brute_force_best() -> None:
    rng = random.Random(6)
    references = {image_id: [random_caption(rng, 3, 9) for _ in range(5)] for image_id in range(20)}
    candidates = [random_caption(rng, 2, 9) for _ in range(30)]
    brute = [
        evaluate(references, {i: c for i in references}, ["Bleu_4"])["Bleu_4"] for c in candidates
    ]

    caption, score = best_constant_caption(references, candidates)
    assert score == max(brute)
    assert caption == candidates[brute.index(max(brute))]


def test_first_candidate_wins_a_tie() -> None:
    assert best_constant_caption({1: ["a dog"]}, ["a cat", "a bird"]) == (
        "a cat",
        best_constant_caption({1: ["a dog"]}, ["a cat"])[1],
    )


@pytest.mark.parametrize("candidates", [[], "a dog", ["a dog", 3]])
def test_invalid_candidates_raise(candidates: object) -> None:
    with pytest.raises(DataError):
        best_constant_caption({1: ["a dog"]}, candidates)  # type: ignore[arg-type]


def test_invalid_references_raise() -> None:
    with pytest.raises(DataError, match="no reference caption"):
        best_constant_caption({1: []}, ["a dog"])


@pytest.mark.slow
def test_hundreds_of_candidates_on_thousands_of_images_fast() -> None:
    rng = random.Random(7)
    references = {
        image_id: [random_caption(rng, 6, 14) for _ in range(5)] for image_id in range(3000)
    }
    candidates = [random_caption(rng, 4, 12) for _ in range(300)]
    start = time.perf_counter()
    best_constant_caption(references, candidates)
    # Budget for a shared 2-core CI machine; about 0.7 s measured on one.
    assert time.perf_counter() - start < 6.0
