"""`nncaption export lemur RUN_DIR --out DIR`: trained candidates in LEMUR's dataset layout."""

from __future__ import annotations

import argparse
from pathlib import Path

from nncaption.store.lemur import export_lemur


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a run's trained models to another layout (lemur)",
        description="Export the trained candidates of a run. 'lemur' writes nn/<prefix>-<md5>.py model files and "
        "stat/train/img-captioning_<dataset>_bleu_<model>/<epoch>.json statistics, the nn-dataset layout.",
    )
    parser.add_argument("format", choices=["lemur"], help="target layout")
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="run directory of an nncaption search")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument("--prefix", default="nncap", help="model name prefix, without '_' (default: nncap)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    exported = export_lemur(args.run_dir, args.out, args.prefix)
    for model in exported:
        print(f"candidate #{model.candidate_id}: {model.model_file} ({model.epochs} epoch statistics in {model.stat_dir})")
    print(f"{len(exported)} trained models exported to {args.out}")
    return 0
