"""`nncaption data`: write the synthetic data set."""

from __future__ import annotations

import argparse
from pathlib import Path

from nncaption.data.synthetic import write_synthetic


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="data set tools", description="Data set tools.")
    commands = parser.add_subparsers(dest="data_command", metavar="DATA_COMMAND", required=True)
    synthetic = commands.add_parser(
        "synthetic",
        help="write the built-in synthetic captioning set in COCO layout",
        description="Write the synthetic shapes captioning set: annotations/captions_{train,val}2017.json, "
        "train2017/, val2017/ and the Karpathy-style split file dataset_synthetic.json.",
    )
    synthetic.add_argument("--out", type=Path, required=True, help="output folder")
    synthetic.add_argument("--images", type=int, default=3000, help="images in all splits (default 3000)")
    synthetic.add_argument("--size", type=int, default=64, help="image side in pixels (default 64)")
    synthetic.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synthetic.set_defaults(run=run_synthetic)


def run_synthetic(args: argparse.Namespace) -> int:
    counts = write_synthetic(args.out, args.images, args.size, args.seed)
    print(f"wrote {sum(counts.values())} images to {args.out}: "
          f"{counts['train']} train, {counts['val']} val, {counts['test']} test")
    return 0
