"""The tokenizer against known PTB outputs and, where Java runs, against the Java tokenizer itself."""

from __future__ import annotations

import random
import shutil
import string

import pytest

from nncaption.metrics import tokenize
from nncaption.metrics.tokenizer import ptb_tokens

from .caption_corpus import generate_captions

requires_java = pytest.mark.skipif(
    shutil.which("java") is None, reason="needs Java to run the PTB tokenizer jar"
)

# Outputs of CoreNLP 3.4.1 `PTBTokenizer -preserveLines -lowerCase` followed by
# pycocoevalcap's punctuation removal, recorded from the Java tokenizer.
KNOWN_CASES = [
    ("A man riding a horse.", "a man riding a horse"),
    ("a dog. A cat. a bird", "a dog a cat a bird"),
    ("I'm you're they'll we've he'd she's it's", "i 'm you 're they 'll we 've he 'd she 's it 's"),
    (
        "don't won't can't shouldn't ain't DON'T CAN'T",
        "do n't wo n't ca n't should n't ai n't do n't ca n't",
    ),
    ("YOU'RE IT'S I'M WE'LL THEY'VE SHE'D", "you 're it 's i 'm we 'll they 've she 'd"),
    ("the dogs' bowls and James's hat", "the dogs bowls and james 's hat"),
    ("the 1990s and '90s and 90's", "the 1990s and '90s and 90 's"),
    ("well-known 3-year-old x-ray t-shirt co-op", "well-known 3-year-old x-ray t-shirt co-op"),
    ("5-10 people 10:30 3/4 1/2 10/20/2020", "5-10 people 10:30 3/4 1/2 10/20/2020"),
    ("$3.50 -5 +5 50% #1 a&b AT&T at&t", "$ 3.50 -5 +5 50 % # 1 a & b at&t at & t"),
    (
        "\"hello\" 'world' `hi' ``hi'' “curly” ‘single’ don’t",
        "hello world hi hi curly single do n't",
    ),
    ("(a) [b] {c}", "-lrb- a -rrb- -lsb- b -rsb- -lcb- c -rcb-"),
    ("this ... that… hello!! what?! ok; yes: no, -- - – —", "this that hello !! what ?! ok yes no"),
    ("naïve café São Paulo 東京 Ω", "naïve café são paulo 東京 ω"),
    (
        "O'Neill o'clock rock'n'roll d'Avignon l'amour y'all",
        "o'neill o'clock rock 'n' roll d'avignon l'amour y' all",
    ),
    ("cannot gonna wanna gotta 'tis 'twas", "can not gon na wan na got ta 't is 't was"),
    (
        "Mr. Smith, Dr. Who and mr. bean at St. Louis vs. them",
        "mr. smith dr. who and mr. bean at st. louis vs. them",
    ),
    ("the U.S. a.m. e.g. etc. end with p.m.", "the u.s. a.m. e.g. etc. end with p.m."),
    ("a piece of art. no. 5 No. the end no.", "a piece of art no. 5 no the end no"),
    ("1.5million 3.5.6 1,000,000 .5 5. 5.0.", "1.5 million 3.5.6 1,000,000 .5 5 5.0"),
    ("½ cup of ¾ € 5 £ 3 ¢", "1/2 cup of 3/4 $ 5 # 3 cents"),
    ("1 1/2 cups", "1\u00a01/2 cups"),
    ("a <the beach> b <giraffe's>", "a <the\u00a0beach> b < giraffe 's >"),
    ("smile :) ;-)", "smile :-rrb- ;--rrb-"),
    ("approx.; dog., the dog.: ok", "approx. dog. the dog. ok"),
    ("", ""),
    ("...", ""),
    ("  spaced \t out  ", "spaced out"),
]


@pytest.mark.parametrize(("caption", "expected"), KNOWN_CASES)
def test_tokenize_known_cases(caption: str, expected: str) -> None:
    assert tokenize(caption) == (expected.split(" ") if expected else [])


def test_tokenize_rejects_non_string() -> None:
    with pytest.raises(TypeError, match="caption string"):
        tokenize(None)  # type: ignore[arg-type]


def test_plain_word_path_equals_lexer() -> None:
    # Captions of plain words and full stops skip the lexer; the two must agree.
    rng = random.Random(3)
    words = [
        "a",
        "man",
        "dogs",
        "etc",
        "mr",
        "ft",
        "no",
        "x",
        "cannot",
        "Gonna",
        "ILL",
        "Mass",
        "pa",
        "3d",
        "42",
    ]
    for _ in range(500):
        caption = " ".join(
            rng.choice(words) + rng.choice(["", "", ".", ","]) for _ in range(rng.randint(0, 8))
        )
        expected = [t for t in (tok.lower() for tok in ptb_tokens(caption)) if t not in {".", ","}]
        assert tokenize(caption) == expected, caption


def test_random_ascii_does_not_crash() -> None:
    rng = random.Random(4)
    for _ in range(300):
        caption = "".join(rng.choice(string.printable) for _ in range(rng.randint(0, 40)))
        assert all(token.strip() for token in tokenize(caption))


@requires_java
def test_tokenizer_matches_java_ptb_tokenizer() -> None:
    pytest.importorskip("pycocoevalcap", reason="pycocoevalcap==1.2 ships the PTB tokenizer jar")
    from .coco_reference import java_tokenize

    captions = generate_captions(2500, seed=11)
    java = java_tokenize({index: [caption] for index, caption in enumerate(captions)})

    differences = []
    for index, caption in enumerate(captions):
        expected = java[index][0].split(" ") if java[index][0] else []
        if tokenize(caption) != expected:
            differences.append((caption, expected, tokenize(caption)))
    assert differences == []
