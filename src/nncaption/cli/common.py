"""Options and helpers shared by several subcommands."""

from __future__ import annotations

import argparse

from nncaption.config import RunConfig, check_config, load_config


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="YAML run configuration")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one config value (repeatable), e.g. --set trial.epochs=2",
    )


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """Load --config and the --set overrides, then check every section's values."""
    config = load_config(args.config, args.overrides)
    check_config(config)
    return config
