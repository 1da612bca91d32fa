"""`nncaption zoo`: list the model zoo, or print one entry's snippet or encoder source."""

from __future__ import annotations

import argparse
from pathlib import Path

from nncaption.cli.common import add_config_options, config_from_args, positive_int
from nncaption.cli.tables import format_table
from nncaption.errors import UsageError
from nncaption.zoo import (
    KINDS,
    PROBE_IMAGE_SIZE,
    ZooEntry,
    encoder_source,
    extract_snippet,
    get_entry,
    list_entries,
)

HEADERS = ("name", "kind", "family", "width", "params", f"features@{PROBE_IMAGE_SIZE}px", "origin")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "zoo",
        help="list zoo backbones and baseline captioners",
        description="List the model zoo: built-in classification backbones and baseline captioners, "
        "plus the model files of any --dir folder. Parameter counts and feature shapes come from "
        "building each model once on the CPU.",
    )
    parser.add_argument("--kind", choices=KINDS, help="list only backbones or only captioners")
    parser.add_argument(
        "--dir",
        dest="dirs",
        action="append",
        type=Path,
        default=[],
        metavar="FOLDER",
        help="also list the model files in FOLDER, e.g. a LEMUR ab/nn/nn checkout (repeatable)",
    )
    add_config_options(parser)
    parser.add_argument("--no-probe", action="store_true", help="skip building models: no params or feature shapes")
    show = parser.add_mutually_exclusive_group()
    show.add_argument("--snippet", metavar="NAME", help="print the prompt snippet of entry NAME instead of the list")
    show.add_argument("--encoder", metavar="NAME", help="print backbone NAME's source without its classifier")
    parser.add_argument(
        "--budget", type=positive_int, default=4000, metavar="CHARS", help="snippet size limit in characters (default 4000)"
    )
    parser.set_defaults(run=run)


def _format_params(count: int | None) -> str:
    if count is None:
        return "-"
    return f"{count / 1e6:.2f}M" if count >= 1_000_000 else f"{count / 1e3:.0f}k"


def _row(entry: ZooEntry) -> list[str]:
    dims = entry.feature_dims
    features = "x".join(str(d) for d in dims) if dims else "-"
    width = str(entry.default_width) if entry.default_width is not None else "-"
    params = "error" if entry.probe_error else _format_params(entry.params)
    return [entry.name, entry.kind, entry.family, width, params, features, entry.origin]


def _zoo_dirs(args: argparse.Namespace) -> list[Path]:
    """Return the config's zoo folders, then the --dir folders."""
    config = config_from_args(args)
    zoo_section = getattr(config, "zoo", None)
    configured = [Path(d) for d in getattr(zoo_section, "extra_dirs", None) or []]
    return configured + list(args.dirs)


def run(args: argparse.Namespace) -> int:
    dirs = _zoo_dirs(args)
    if args.snippet:
        snippet = extract_snippet(get_entry(args.snippet, dirs, probe=False).source(), args.budget)
        if not snippet.strip():
            raise UsageError(f"--budget {args.budget} is too small for any part of {args.snippet!r}; raise it (default 4000)")
        print(snippet, end="")
        return 0
    if args.encoder:
        # Checked here so that an unknown name lists only the backbones --encoder accepts.
        get_entry(args.encoder, dirs, probe=False, encoder=True)
        print(encoder_source(args.encoder, dirs), end="")
        return 0

    entries = list_entries(args.kind, dirs, probe=not args.no_probe)
    print(format_table(HEADERS, [_row(entry) for entry in entries]))
    failed = [entry for entry in entries if entry.probe_error]
    for entry in failed:
        print(f"{entry.name}: building the model failed: {entry.probe_error}")
    return 0
