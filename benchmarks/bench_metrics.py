"""Time nncaption.metrics against pycocoevalcap on the same captions and check the values agree.

Scores 5,000 images x 5 references (COCO-like captions generated from a fixed seed) with
BLEU-1..4, ROUGE-L and CIDEr-D, tokenization included: nncaption's pure-Python tokenizer
against pycocoevalcap's Java PTB tokenizer. Needs Java and pycocoevalcap==1.2. Each side
runs `--repeat` times in fresh caches and the fastest wall-clock time counts, because on a
shared machine single runs vary by a factor of two.

    .venv/bin/python benchmarks/bench_metrics.py [--images 5000] [--references 5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import time
from collections.abc import Callable

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

from nncaption.metrics import evaluate
from nncaption.metrics.base import ngram_counts
from nncaption.metrics.tokenizer import clear_caches

SUBJECTS = [
    "a man",
    "a woman",
    "two dogs",
    "the cat",
    "a group of people",
    "an old bus",
    "a little girl",
    "three zebras",
    "a plate of food",
    "a red train",
    "a young boy",
    "a giraffe",
    "an elephant",
    "a pizza",
    "a surfer",
    "two skiers",
    "a bowl of fruit",
    "a brown horse",
    "a kitchen",
    "a clock",
]
VERBS = [
    "is riding",
    "sitting on",
    "standing next to",
    "holding",
    "eating",
    "looking at",
    "walking down",
    "playing with",
    "parked near",
    "flying over",
    "lying on",
    "covered with",
    "jumping over",
    "near",
]
OBJECTS = [
    "a wave",
    "the street",
    "a wooden bench",
    "a frisbee",
    "a red umbrella",
    "the table",
    "a field of grass",
    "a snowy hill",
    "a tennis racket",
    "the beach",
    "a laptop",
    "the water",
    "a large clock tower",
    "a stop sign",
    "a city street",
    "a white plate",
    "the sky",
    "a fence",
]
EXTRAS = [
    "",
    "",
    "",
    " in the snow",
    " on a sunny day",
    " at night",
    ", while people watch",
    " next to a building",
    " with a smile",
    " in a kitchen",
    " that's parked",
]


def caption(rng: random.Random) -> str:
    text = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}{rng.choice(EXTRAS)}"
    text = text[0].upper() + text[1:] if rng.random() < 0.6 else text
    return text + rng.choice([".", "", " .", "."])


def make_data(images: int, references: int, seed: int = 0) -> tuple[dict, dict]:
    rng = random.Random(seed)
    refs = {image_id: [caption(rng) for _ in range(references)] for image_id in range(images)}
    hyps = {image_id: caption(rng) for image_id in range(images)}
    return refs, hyps


def score_nncaption(refs: dict, hyps: dict) -> dict[str, float]:
    # Start from empty caches, as a fresh process would.
    clear_caches()
    ngram_counts.cache_clear()
    return evaluate(refs, hyps, ["bleu", "rouge_l", "cider"])


def score_pycocoevalcap(refs: dict, hyps: dict) -> dict[str, float]:
    tokenizer = PTBTokenizer()
    gts = tokenizer.tokenize(
        {i: [{"caption": c} for c in captions] for i, captions in refs.items()}
    )
    res = tokenizer.tokenize({i: [{"caption": c}] for i, c in hyps.items()})
    scores: dict[str, float] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        bleu, _ = Bleu(4).compute_score(gts, res)
    scores.update(zip(["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4"], bleu, strict=True))
    scores["ROUGE_L"] = float(Rouge().compute_score(gts, res)[0])
    scores["CIDEr"] = float(Cider().compute_score(gts, res)[0])
    return scores


def fastest(
    score: Callable[[dict, dict], dict[str, float]], refs: dict, hyps: dict, repeat: int
) -> tuple[dict, float]:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        scores = score(refs, hyps)
        best = min(best, time.perf_counter() - start)
    return scores, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--references", type=int, default=5)
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per implementation; the fastest counts"
    )
    args = parser.parse_args()
    refs, hyps = make_data(args.images, args.references)

    ours, ours_s = fastest(score_nncaption, refs, hyps, args.repeat)
    theirs, theirs_s = fastest(score_pycocoevalcap, refs, hyps, args.repeat)

    print(
        f"{args.images} images x {args.references} references, tokenization included, best of {args.repeat}"
    )
    print(f"{'score':<8} {'nncaption':>20} {'pycocoevalcap':>20} {'abs diff':>10}")
    for name, value in theirs.items():
        print(f"{name:<8} {ours[name]:>20.15f} {value:>20.15f} {abs(ours[name] - value):>10.2e}")
    print(f"nncaption      {ours_s:7.2f} s")
    print(f"pycocoevalcap  {theirs_s:7.2f} s")
    print(f"speed-up       {theirs_s / ours_s:7.1f}x")


if __name__ == "__main__":
    main()
