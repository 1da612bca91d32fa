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
from nncaption.errors import NncaptionError, UsageError

# Exit statuses of every subcommand. A usage error (UsageError, ConfigError) is a bad option, an
# unknown or invalid config key or value, or a missing input file named on the command line.
# A failure is any other NncaptionError (data, store, sandbox) or a result the command rejects.
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

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


class _SubcommandParser(_Parser):
    """Parser of a subcommand, which reports its own unrecognized arguments with its own usage.

    argparse hands a subcommand's unrecognized arguments up to the top-level parser, which
    would print the top-level usage instead.
    """

    def parse_known_args(  # type: ignore[override]
        self, args: list[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="nncaption",
        description="LLM-guided neural architecture search for image captioning, scored with the COCO caption metrics.",
    )
    parser.add_argument("--version", action="version", version=f"nncaption {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_SubcommandParser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(subparsers)
    _add_log_options(subparsers)
    return parser


def _add_log_options(subparsers: argparse._SubParsersAction) -> None:
    """Accept -v and -q after a subcommand too, e.g. `nncaption search --run-dir r -v`.

    The defaults are SUPPRESS, so a subcommand that is given neither flag keeps the values
    parsed before the subcommand name.
    """
    for subparser in subparsers.choices.values():
        subparser.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                               help="more log output (-vv for debug)")
        subparser.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                               help="only warnings and errors")
        for action in subparser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _add_log_options(action)


def configure_logging(verbose: int, quiet: bool) -> None:
    if quiet:
        level = logging.WARNING
    elif verbose >= 2:
        level = logging.DEBUG
    else:
        level = logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The HTTP client logs every request at INFO; one line per LLM call is noise beside ours.
    for noisy in ("httpx", "httpx2", "httpcore", "openai", "matplotlib", "PIL"):
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
    except UsageError as exc:
        print(f"nncaption {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except NncaptionError as exc:
        print(f"nncaption {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"nncaption {args.command}: interrupted", file=sys.stderr)
        return 130
