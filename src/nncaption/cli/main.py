"""The `nncaption` command: argument parsing, logging set-up and error reporting.

Each subcommand lives in its own module of this package, with `add_parser(subparsers)`
and `run(args) -> int`. The CLI is the only layer that prints.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from nncaption import __version__
from nncaption.errors import NncaptionError

# Subcommand modules, in the order `nncaption --help` lists them.
COMMAND_MODULES = [
    "nncaption.cli.search_cmd",
    "nncaption.cli.check_cmd",
    "nncaption.cli.train_cmd",
    "nncaption.cli.data_cmd",
    "nncaption.cli.score_cmd",
    "nncaption.cli.zoo_cmd",
    "nncaption.cli.report_cmd",
    "nncaption.cli.export_cmd",
]

log = logging.getLogger(__name__)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors exit with status 2 and a one-line hint."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\nRun '{self.prog} --help' for the options.\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="nncaption",
        description="LLM-guided neural architecture search for image captioning, scored with the COCO caption metrics.",
    )
    parser.add_argument("--version", action="version", version=f"nncaption {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose >= 2 else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The HTTP client logs every request at INFO; one line per LLM call is noise beside ours.
    for noisy in ("httpx", "httpcore", "openai"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    configure_logging(args.verbose, args.quiet)
    try:
        return int(args.run(args) or 0)
    except NncaptionError as exc:
        print(f"nncaption {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"nncaption {args.command}: interrupted", file=sys.stderr)
        return 130
