"""`nncaption data`: write the synthetic data set; prepare and inspect a configured data set."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from nncaption.cli.common import add_config_options, config_from_args
from nncaption.config import check_synthetic_values
from nncaption.data.cache import PreparedData, load_prepared
from nncaption.data.prepare import prepare_data
from nncaption.data.synthetic import write_synthetic

LENGTH_BUCKETS = (5, 10, 15, 20, 30, 50)  # upper bounds of the caption length histogram rows, in tokens
UNREADABLE_SHOWN = 10


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="data set tools", description="Data set tools.")
    commands = parser.add_subparsers(dest="data_command", metavar="DATA_COMMAND", required=True)
    synthetic = commands.add_parser(
        "synthetic",
        help="write the built-in synthetic captioning set in COCO layout",
        description="Write the synthetic shapes captioning set: annotations/captions_{train,val}2017.json, "
        "train2017/, val2017/ and the Karpathy-style split file dataset_synthetic.json.",
    )
    synthetic.add_argument("--out", type=Path, required=True,
                           help="output folder: a new or empty folder, or an earlier synthetic set, which is replaced")
    synthetic.add_argument("--images", type=int, default=3000, help="images in all splits, 10 to 1,000,000 (default 3000)")
    synthetic.add_argument("--size", type=int, default=64, help="image side in pixels, 24 to 1024 (default 64)")
    synthetic.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synthetic.set_defaults(run=run_synthetic)

    inspect = commands.add_parser(
        "inspect",
        help="prepare the configured data set (or reuse its cache) and print what it contains",
        description="Prepare the data set that the config selects (data.source, data.root, data.split_file, ...), "
        "reusing the cache when it is current, and print the images and captions per split, the vocabulary "
        "size, the caption length distribution and everything that was skipped.",
    )
    add_config_options(inspect)
    inspect.add_argument("--cache", type=Path, metavar="DIR",
                         help="inspect this prepared folder instead of preparing the configured data set")
    inspect.set_defaults(run=run_inspect)


def run_synthetic(args: argparse.Namespace) -> int:
    check_synthetic_values(args.images, args.size, "--images", "--size")
    counts = write_synthetic(args.out, args.images, args.size, args.seed)
    print(f"wrote {sum(counts.values())} images to {args.out}: "
          f"{counts['train']} train, {counts['val']} val, {counts['test']} test")
    return 0


class _PrepareBars:
    """One tqdm bar per preparation stage, drawn on stderr."""

    def __init__(self) -> None:
        self.bars: dict[str, tqdm] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = tqdm(total=total, desc=stage, unit="img", file=sys.stderr, dynamic_ncols=True)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def run_inspect(args: argparse.Namespace) -> int:
    if args.cache is not None:
        prepared = load_prepared(args.cache)
    else:
        bars = _PrepareBars()
        try:
            prepared = prepare_data(config_from_args(args).data, bars)
        finally:
            bars.close()
    print("\n".join(describe(prepared)))
    return 0


def describe(prepared: PreparedData) -> list[str]:
    """Format the manifest of a prepared data set as lines of text."""
    manifest = prepared.manifest
    lines = [f"data set {manifest['name']} in {prepared.path}",
             f"images {manifest['image_size']}x{manifest['image_size']}, vocabulary {manifest['vocab_size']} words "
             f"(min count {manifest.get('min_count', '?')}, 4 special), captions cut to {manifest['max_len']} tokens for training",
             "", f"{'split':<6} {'images':>8} {'captions':>9}  references per image"]
    for split, counts in manifest["splits"].items():
        per_image = ", ".join(f"{n}: {c}" for n, c in counts.get("references_per_image", {}).items())
        lines.append(f"{split:<6} {counts['images']:>8} {counts['captions']:>9}  {per_image}")

    lines += ["", "caption length in tokens, counted before the cut:"]
    for split, summary in manifest.get("caption_lengths", {}).items():
        if summary.get("count"):
            lines.append(f"  {split:<5} min {summary['min']}, mean {summary['mean']}, median {summary['p50']}, "
                         f"p95 {summary['p95']}, p99 {summary['p99']}, max {summary['max']}")
    train = manifest.get("caption_lengths", {}).get("train", {})
    lines += _length_histogram(train.get("histogram", {}))

    lines += ["", "skipped:"]
    lines += [f"  {reason.replace('_', ' ')}: {count}" for reason, count in manifest.get("skipped", {}).items()]
    unreadable = manifest.get("unreadable_images", [])
    lines += [f"    {entry}" for entry in unreadable[:UNREADABLE_SHOWN]]
    if len(unreadable) > UNREADABLE_SHOWN:
        lines.append(f"    ... and {len(unreadable) - UNREADABLE_SHOWN} more listed in {prepared.path / 'manifest.json'}")
    constant = manifest.get("constant_caption")
    if constant:
        lines += ["", f"best constant caption: {constant['caption']!r} (val BLEU-4 {constant['val_bleu4']:.3f}, "
                      f"test BLEU-4 {constant['test_bleu4']:.3f})"]
    return lines


def _length_histogram(histogram: dict[str, Any]) -> list[str]:
    if not histogram:
        return []
    total = sum(histogram.values())
    lines, lower = [], 0
    empty = histogram.get("0", 0)  # only in caches prepared before empty captions were dropped
    if empty:
        lines.append(f"  train {'0':>6}: {empty:>8} {'#' * round(40 * empty / total)}")
    for upper in (*LENGTH_BUCKETS, None):
        count = sum(c for n, c in histogram.items() if int(n) > lower and (upper is None or int(n) <= upper))
        label = f"{lower + 1}-{upper}" if upper is not None else f">{lower}"
        if count:
            lines.append(f"  train {label:>6}: {count:>8} {'#' * round(40 * count / total)}")
        if upper is None:
            break
        lower = upper
    return lines
