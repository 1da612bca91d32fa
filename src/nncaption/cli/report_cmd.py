"""`nncaption report RUN_DIR`: the HTML/Markdown report of a search run."""

from __future__ import annotations

import argparse
from pathlib import Path

from nncaption.cli.common import positive_int
from nncaption.report import write_report


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write the HTML and Markdown report of a search run",
        description="Write RUN_DIR/report/: index.html, summary.md, summary.json and PNG figures, all from the run's store.",
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="run directory of an nncaption search")
    parser.add_argument("--out", type=Path, help="output folder (default: RUN_DIR/report)")
    parser.add_argument("--top", type=positive_int, help="candidates in the top table (default: search.report_top of the run)")
    parser.add_argument("--probe-images", type=positive_int, help="val images with probe captions (default: search.probe_images)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    page = write_report(args.run_dir, args.out, args.top, args.probe_images)
    print(f"report: {page}")
    print(f"summary: {page.parent / 'summary.md'}")
    return 0
