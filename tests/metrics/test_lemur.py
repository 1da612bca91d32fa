"""lemur_bleu4 against NLTK's sentence_bleu with smoothing method 1."""

from __future__ import annotations

import math
import random

import pytest

from nncaption.metrics import evaluate_detailed, tokenize
from nncaption.metrics.lemur import sentence_bleu4

bleu_score = pytest.importorskip("nltk.translate.bleu_score", reason="nltk is a test dependency")

WORDS = ["a", "man", "dog", "the", "on", "riding", "red", "bus", "of", "two"]


def nltk_bleu4(hypothesis: list[str], references: list[list[str]]) -> float:
    smoothing = bleu_score.SmoothingFunction().method1
    return float(bleu_score.sentence_bleu(references, hypothesis, smoothing_function=smoothing))


def test_sentence_bleu4_matches_nltk() -> None:
    rng = random.Random(8)
    for _ in range(400):
        hypothesis = tuple(rng.choice(WORDS) for _ in range(rng.randint(0, 9)))
        references = [
            tuple(rng.choice(WORDS) for _ in range(rng.randint(1, 9)))
            for _ in range(rng.randint(1, 5))
        ]
        expected = nltk_bleu4(list(hypothesis), [list(r) for r in references])
        assert sentence_bleu4(hypothesis, references) == pytest.approx(expected, abs=1e-12), (
            hypothesis,
            references,
        )


def test_corpus_value_is_mean_of_images() -> None:
    references = {1: ["A man riding a horse."], 2: ["Two dogs on a bus."], 3: ["A red bus."]}
    hypotheses = {1: "a man riding a horse", 2: "two dogs", 3: ""}
    evaluation = evaluate_detailed(references, hypotheses, ["lemur_bleu4"])
    expected = [
        nltk_bleu4(tokenize(hypotheses[i]), [tokenize(r) for r in references[i]]) for i in (1, 2, 3)
    ]
    assert evaluation.scores["lemur_bleu4"] == pytest.approx(math.fsum(expected) / 3, abs=1e-12)
    assert evaluation.per_image["lemur_bleu4"][3] == 0.0
