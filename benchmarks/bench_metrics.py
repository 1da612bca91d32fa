"""Time nncaption.metrics against pycocoevalcap on the same captions and check the values agree.

Scores 5,000 images x 5 references (COCO-like captions generated from a fixed seed) with
BLEU-1..4, ROUGE-L and CIDEr-D, tokenization included: nncaption's pure-Python tokenizer
against pycocoevalcap's Java PTB tokenizer. Needs Java and pycocoevalcap==1.2.

    .venv/bin/python benchmarks/bench_metrics.py [--images 5000] [--references 5]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import time

SUBJECTS = ["a man", "a woman", "two dogs", "the cat", "a group of people", "an old bus", "a little girl",
            "three zebras", "a plate of food", "a red train", "a young boy", "a giraffe", "an elephant",
            "a pizza", "a surfer", "two skiers", "a bowl of fruit", "a brown horse", "a kitchen", "a clock"]
VERBS = ["is riding", "sitting on", "standing next to", "holding", "eating", "looking at", "walking down",
         "playing with", "parked near", "flying over", "lying on", "covered with", "jumping over", "near"]
OBJECTS = ["a wave", "the street", "a wooden bench", "a frisbee", "a red umbrella", "the table",
           "a field of grass", "a snowy hill", "a tennis racket", "the beach", "a laptop", "the water",
           "a large clock tower", "a stop sign", "a city street", "a white plate", "the sky", "a fence"]
EXTRAS = ["", "", "", " in the snow", " on a sunny day", " at night", ", while people watch",
          " next to a building", " with a smile", " in a kitchen", " that's parked"]


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
    from nncaption.metrics import evaluate

    return evaluate(refs, hyps, ["bleu", "rouge_l", "cider"])


def score_pycocoevalcap(refs: dict, hyps: dict) -> dict[str, float]:
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    tokenizer = PTBTokenizer()
    gts = tokenizer.tokenize({i: [{"caption": c} for c in captions] for i, captions in refs.items()})
    res = tokenizer.tokenize({i: [{"caption": c}] for i, c in hyps.items()})
    scores: dict[str, float] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        bleu, _ = Bleu(4).compute_score(gts, res)
    scores.update(zip(["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4"], bleu))
    scores["ROUGE_L"] = float(Rouge().compute_score(gts, res)[0])
    scores["CIDEr"] = float(Cider().compute_score(gts, res)[0])
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--references", type=int, default=5)
    args = parser.parse_args()
    refs, hyps = make_data(args.images, args.references)

    start = time.perf_counter()
    ours = score_nncaption(refs, hyps)
    ours_s = time.perf_counter() - start

    start = time.perf_counter()
    theirs = score_pycocoevalcap(refs, hyps)
    theirs_s = time.perf_counter() - start

    print(f"{args.images} images x {args.references} references, tokenization included")
    print(f"{'score':<8} {'nncaption':>20} {'pycocoevalcap':>20} {'abs diff':>10}")
    for name, value in theirs.items():
        print(f"{name:<8} {ours[name]:>20.15f} {value:>20.15f} {abs(ours[name] - value):>10.2e}")
    print(f"nncaption      {ours_s:7.2f} s")
    print(f"pycocoevalcap  {theirs_s:7.2f} s")
    print(f"speed-up       {theirs_s / ours_s:7.1f}x")


if __name__ == "__main__":
    main()
