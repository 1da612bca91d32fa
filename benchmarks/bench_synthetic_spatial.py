"""Does the synthetic set reward spatial features? Pooled vs grid encoder, same everything else.

Trains two composer designs that differ only in the feature mode (one pooled vector
versus a 4x4 grid with attention) through the real trial path, and prints their val and
test BLEU-4, the best constant caption's, and the ratios.

    .venv/bin/python benchmarks/bench_synthetic_spatial.py [--epochs 4] [--backbone resnet_basic]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from nncaption.config import RunConfig
from nncaption.data.prepare import prepare_data
from nncaption.generate import DataFacts, GenerationContext
from nncaption.generate.composer import Design, render
from nncaption.trial.runner import run_trial


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--backbone", default="resnet_basic")
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--decoder", default="lstm", choices=("lstm", "gru", "transformer"))
    args = parser.parse_args()

    config = RunConfig()
    config.trial.epochs = args.epochs
    prepared = prepare_data(config.data)
    facts = DataFacts(prepared.manifest["image_size"], prepared.vocab_size, prepared.manifest["max_len"], 5)
    context = GenerationContext(facts, 50_000_000, 0)
    constant = prepared.manifest["constant_caption"]
    print(f"best constant caption: {constant['caption']!r} val {constant['val_bleu4']:.3f} test {constant['test_bleu4']:.3f}")

    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for features in ("pooled", "grid"):
            design = Design(args.backbone, args.width, features, args.decoder, 192,
                            192 if args.decoder == "transformer" else 128, 1, 0.1, "adam", 2e-3)
            path = Path(scratch) / f"{features}.py"
            path.write_text(render(design, context), encoding="utf-8")
            outcome = run_trial(path, Path(scratch) / features, prepared, config, {"lr": 2e-3, "dropout": 0.1}, 50_000_000)
            best = outcome.best
            results[features] = (best.val_metrics["Bleu_4"] if best else 0.0, (outcome.test_metrics or {}).get("Bleu_4", 0.0))
            print(f"{features:6s} {design.describe()}: status {outcome.status}, "
                  f"val BLEU-4 {results[features][0]:.3f}, test BLEU-4 {results[features][1]:.3f}, {outcome.seconds:.0f} s")

    pooled, grid = results["pooled"][1], results["grid"][1]
    print(f"test BLEU-4 grid / pooled: {grid / max(pooled, 1e-9):.2f}x; "
          f"grid / constant: {grid / max(constant['test_bleu4'], 1e-9):.2f}x; "
          f"pooled / constant: {pooled / max(constant['test_bleu4'], 1e-9):.2f}x")


if __name__ == "__main__":
    main()
