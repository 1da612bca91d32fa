"""BLEU, ROUGE-L and CIDEr-D against pycocoevalcap 1.2 on random and edge-case caption sets.

Both sides score the same tokens from this package's tokenizer, so these tests need no Java.
The end-to-end test also compares the tokenization, through Java.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nncaption.metrics import evaluate_detailed, tokenize
from nncaption.metrics.rouge import lcs_length

from .coco_reference import (
    TOLERANCE,
    coco_scores_from_strings,
    coco_scores_from_tokens,
    java_tokenize,
    requires_java,
)

WORDS = [
    "a",
    "man",
    "dog",
    "the",
    "on",
    "riding",
    "red",
    "bus",
    "of",
    "two",
    "a",
    "the",
    "café",
    "x-ray",
    "it's",
]
PUNCTUATION = [".", ",", "!", "...", "--", "(", ")"]


def assert_parity(references: dict, hypotheses: dict) -> None:
    """Score raw captions here and with pycocoevalcap on the same tokens; compare every score."""
    ours = evaluate_detailed(references, hypotheses)
    tokenized_refs = {
        image_id: [tokenize(c) for c in captions] for image_id, captions in references.items()
    }
    tokenized_hyps = {image_id: tokenize(c) for image_id, c in hypotheses.items()}
    theirs, theirs_per_image = coco_scores_from_tokens(tokenized_refs, tokenized_hyps)

    for name, tolerance in TOLERANCE.items():
        assert ours.scores[name] == pytest.approx(theirs[name], abs=tolerance, rel=0), name
        ours_per_image = [ours.per_image[name][image_id] for image_id in references]
        assert ours_per_image == pytest.approx(theirs_per_image[name], abs=tolerance, rel=0), name


def caption_strategy(max_words: int = 14) -> st.SearchStrategy[str]:
    word = st.sampled_from(WORDS + PUNCTUATION)
    return st.lists(word, min_size=0, max_size=max_words).map(" ".join)


@st.composite
def caption_sets(draw: st.DrawFn) -> tuple[dict, dict]:
    image_count = draw(st.integers(min_value=1, max_value=10))
    references = {
        image_id: draw(st.lists(caption_strategy(), min_size=1, max_size=7))
        for image_id in range(image_count)
    }
    # CIDEr in pycocoevalcap fails when no reference has a single n-gram; keep one real word.
    references[0][0] += " dog"
    hypotheses = {image_id: draw(caption_strategy()) for image_id in range(image_count)}
    return references, hypotheses


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(caption_sets())
def test_random_caption_sets_match_pycocoevalcap(data: tuple[dict, dict]) -> None:
    references, hypotheses = data
    assert_parity(references, hypotheses)


@pytest.mark.slow
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(caption_sets())
def test_many_random_caption_sets_match_pycocoevalcap(data: tuple[dict, dict]) -> None:
    references, hypotheses = data
    assert_parity(references, hypotheses)


REFERENCES = {
    1: [
        "A man riding a horse on the beach.",
        "A person rides a brown horse.",
        "Horse and rider near water.",
    ],
    2: [
        "Two dogs play with a red frisbee.",
        "Dogs playing in the park.",
        "Two dogs and a frisbee.",
    ],
    3: ["A plate of food with broccoli.", "Broccoli and rice on a plate.", "A dinner plate."],
}

EDGE_CASES = {
    "empty hypothesis for one image": (
        REFERENCES,
        {1: "", 2: "Two dogs play with a frisbee.", 3: "A plate of food."},
    ),
    "empty hypothesis for all images": (REFERENCES, {1: "", 2: "", 3: ""}),
    "hypotheses shorter than 4 tokens": (REFERENCES, {1: "a man", 2: "dogs", 3: "a plate of"}),
    "short exact matches": (
        {1: ["a man", "a person"], 2: ["two dogs", "dogs"], 3: ["a plate"]},
        {1: "a man", 2: "dogs", 3: "a plate"},
    ),
    "one reference per image": (
        {image_id: refs[:1] for image_id, refs in REFERENCES.items()},
        {1: "A man riding a horse.", 2: "Two dogs.", 3: "Food on a plate."},
    ),
    "seven references": (
        {1: REFERENCES[1] + REFERENCES[2] + ["a horse", "a man"], 2: REFERENCES[2] * 2 + ["dog"]},
        {1: "a man riding a horse", 2: "two dogs playing"},
    ),
    "punctuation-only captions": (
        {1: ["...", "A man riding a horse."], 2: ["!?", "-- ;", "Two dogs."]},
        {1: "!!!", 2: "..."},
    ),
    "non-ASCII captions": (
        {
            1: ["Ein Mann reitet über die Straße.", "Un café très chaud.", "東京 の 猫"],
            2: ["Ωmega naïve façade", "ß"],
        },
        {1: "Ein Mann über die Straße", 2: "naïve façade"},
    ),
    "single image": ({1: REFERENCES[1]}, {1: "A man riding a horse."}),
    "single image, single word": ({1: ["dog"]}, {1: "dog"}),
    "repeated words": (
        {1: ["the the the the cat", "a cat"], 2: ["dog dog"]},
        {1: "the the the the the", 2: "dog"},
    ),
}


@pytest.mark.parametrize("name", list(EDGE_CASES))
def test_edge_cases_match_pycocoevalcap(name: str) -> None:
    references, hypotheses = EDGE_CASES[name]
    assert_parity(references, hypotheses)


def test_no_reference_ngrams_scores_zero_cider() -> None:
    # pycocoevalcap raises on this input (max() of no document frequencies); here CIDEr is 0.
    evaluation = evaluate_detailed({1: ["..."], 2: ["!"]}, {1: "a dog", 2: ""})
    assert evaluation.scores["CIDEr"] == 0.0
    assert evaluation.per_image["ROUGE_L"][1] == 0.0
    # As in pycocoevalcap, an empty hypothesis matches an empty reference fully.
    assert evaluation.per_image["ROUGE_L"][2] == 1.0


@requires_java
def test_end_to_end_with_java_tokenizer_matches() -> None:
    references = {image_id: refs for image_id, refs in REFERENCES.items()}
    references[4] = ["He's (maybe) the U.S. champion's dog!", 'It isn\'t a 3-year-old "puppy".']
    hypotheses = {
        1: "A man rides a horse.",
        2: "Two dogs, one frisbee!",
        3: "",
        4: "The champion's dog isn't old.",
    }
    gts = {
        k: [" ".join(tokens.split(" ")) for tokens in v]
        for k, v in java_tokenize(references).items()
    }
    res = java_tokenize({k: [v] for k, v in hypotheses.items()})
    theirs, _ = coco_scores_from_strings(gts, res)

    ours = evaluate_detailed(references, hypotheses).scores
    for name, tolerance in TOLERANCE.items():
        assert ours[name] == pytest.approx(theirs[name], abs=tolerance, rel=0), name


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from("abcd"), max_size=40),
    st.lists(st.sampled_from("abcde"), max_size=40),
)
def test_lcs_length_matches_pycocoevalcap_lcs(a: list[str], b: list[str]) -> None:
    from pycocoevalcap.rouge.rouge import my_lcs

    assert lcs_length(a, b) == my_lcs(a, b)


def test_no_break_space_token_counted_as_pycocoevalcap_does() -> None:
    # "1 1/2" is one PTB token with a no-break space; BLEU and CIDEr split it, ROUGE-L does not.
    references = {1: ["add 1 1/2 cups of flour", "1 cup of flour"], 2: ["a cat"]}
    hypotheses = {1: "add 1 cup of flour", 2: "a cat"}
    assert "1\u00a01/2" in tokenize(references[1][0])
    assert_parity(references, hypotheses)
