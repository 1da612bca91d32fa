"""`nncaption train MODEL.py`: train and score one model file under the search's trial protocol.

Prints one row per epoch (val metrics of the harness decoding) and one test row for the
val-selected epoch, and writes `results.json` and the COCO-format hypotheses of val and
test to the output folder. Exit status: 0 when the model ends `trained`, 1 when it ends
with another status or an error stops the command, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import math
import shutil
import sys
from pathlib import Path
from typing import Any

from nncaption.cli.check_cmd import SANDBOX_MODEL_NAME, locate_in_user_file
from nncaption.cli.common import add_config_options, config_from_args
from nncaption.cli.tables import format_table
from nncaption.codegen.validate import status_for, validate_source
from nncaption.config import RunConfig, dump_config
from nncaption.contract import DEFAULT_PARAM_BUDGET
from nncaption.data.prepare import SOURCES, prepare_data
from nncaption.errors import UsageError
from nncaption.status import Status
from nncaption.trial.runner import (
    TrialOutcome,
    check_trial_config,
    constant_caption_scores,
    run_trial,
)

EXIT_TRAINED, EXIT_NOT_TRAINED, EXIT_USAGE = 0, 1, 2
RESULTS_SCHEMA_VERSION = 1
HYPOTHESIS_FILES = ("val_hypotheses.json", "test_hypotheses.json", "val_hypotheses_own.json", "test_hypotheses_own.json")
METRIC_COLUMNS = ("Bleu_1", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train and score one model file with the search's trial protocol",
        description="Train and score one model file under the search's trial protocol: the same data, epochs, "
        "sandbox and metrics as a search candidate. Prints the val metrics per epoch and the test metrics of the "
        "val-selected epoch, and writes results.json and the val and test hypotheses to --out. "
        "Exit status: 0 when the model ends trained, 1 for any other status or an error, 2 for a usage error.",
    )
    parser.add_argument("model", metavar="MODEL.py", help="the model file to train")
    parser.add_argument("--data", choices=SOURCES, help="data source (sets data.source; default: synthetic)")
    parser.add_argument("--epochs", type=int, metavar="N", help="training epochs (sets trial.epochs)")
    parser.add_argument("--seed", type=int, help="seed of the trial (sets trial.seed)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="output folder for results.json, hypotheses and the trial log (default: runs/train/<model name>)")
    parser.add_argument("--prm", metavar="JSON", default="{}",
                        help='hyperparameter values as a JSON object, e.g. \'{"lr": 0.0005}\'; unset keys get the defaults')
    add_config_options(parser)
    parser.set_defaults(run=run)


def _usage_problem(args: argparse.Namespace) -> str | None:
    path = Path(args.model)
    if not path.is_file():
        return f"model file {path} not found; pass the path of a Python model file"
    if args.epochs is not None and args.epochs < 1:
        return f"--epochs must be at least 1, got {args.epochs}"
    try:
        prm = json.loads(args.prm)
    except json.JSONDecodeError as exc:
        return f"--prm is not valid JSON ({exc.msg}); pass an object such as '{{\"lr\": 0.001}}'"
    if not isinstance(prm, dict):
        return f"--prm must be a JSON object, got {type(prm).__name__}"
    for key, value in prm.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"--prm value of {key!r} must be a finite number, got {json.dumps(value)}; e.g. '{{\"lr\": 0.001}}'"
    return None


def _undeclared_keys(source: bytes, prm: dict[str, Any]) -> list[str]:
    """Return the --prm keys that the model's `supported_hyperparameters()` does not return.

    Only a function whose every return is a literal set, list or tuple of strings is read;
    for any other body nothing is reported.
    """
    declared: set[str] = set()
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.FunctionDef) and node.name == "supported_hyperparameters"):
            continue
        for ret in (n for n in ast.walk(node) if isinstance(n, ast.Return)):
            try:
                value = ast.literal_eval(ret.value) if ret.value is not None else None
            except (ValueError, TypeError, SyntaxError, RecursionError):
                return []
            if not isinstance(value, (set, frozenset, list, tuple)):
                return []
            declared.update(str(v) for v in value)
    return sorted(set(prm) - declared) if declared else []


def _config(args: argparse.Namespace) -> RunConfig:
    config = config_from_args(args)
    if args.data is not None:
        config.data.source = args.data
    if args.epochs is not None:
        config.trial.epochs = args.epochs
    if args.seed is not None:
        config.trial.seed = args.seed
    return config


def run(args: argparse.Namespace) -> int:
    problem = _usage_problem(args)
    if problem:
        print(f"nncaption train: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    path = Path(args.model)
    violations = validate_source(path.read_bytes(), path.name)
    static_status = status_for(violations)
    if static_status is not None:
        for v in violations:
            if v.severity == "error":
                print(f"{path}:{v.line}:{v.col} {v.rule} {v.message}", file=sys.stderr)
        print(f"nncaption train: error: {path} is invalid ({static_status.value}); fix the listed violations "
              f"or run 'nncaption check {path}' for details", file=sys.stderr)
        return EXIT_NOT_TRAINED

    prm = json.loads(args.prm)
    undeclared = _undeclared_keys(path.read_bytes(), prm)
    if undeclared:
        print(f"nncaption train: warning: --prm keys {', '.join(undeclared)} are not declared by "
              f"supported_hyperparameters() in {path} and are ignored", file=sys.stderr)

    config = _config(args)
    check_trial_config(config)
    out = args.out or Path("runs") / "train" / path.stem
    _make_out_dir(out)
    dump_config(config, out / "config.yaml")
    prepared = prepare_data(config.data, _data_progress)
    shutil.copyfile(path, out / SANDBOX_MODEL_NAME)
    trial_dir = out / "trial"
    shutil.rmtree(trial_dir, ignore_errors=True)
    param_budget = config.trial.param_budget or DEFAULT_PARAM_BUDGET
    outcome = run_trial(out / SANDBOX_MODEL_NAME, trial_dir, prepared, config, prm, param_budget)
    _locate_in_user_file(outcome, path)

    for name in HYPOTHESIS_FILES:
        if (trial_dir / name).is_file():
            shutil.copyfile(trial_dir / name, out / name)
    constant = constant_caption_scores(prepared, config)
    results = _results(path, config, prepared.manifest, constant, outcome)
    (out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    _print_report(outcome, constant, out)
    return EXIT_TRAINED if outcome.status == Status.TRAINED else EXIT_NOT_TRAINED


def _locate_in_user_file(outcome: TrialOutcome, path: Path) -> None:
    """Point the error locations of `outcome` at the user's model file instead of the trial's copy."""
    outcome.message = locate_in_user_file(outcome.message, path)
    for check in outcome.checks:
        if isinstance(check.get("message"), str):
            check["message"] = locate_in_user_file(check["message"], path)


def _make_out_dir(out: Path) -> None:
    """Create the --out folder, or raise UsageError saying why it cannot be used."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder; choose a folder path")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the --out folder {out}: {exc.strerror}; choose a writable path") from exc


def _data_progress(stage: str, done: int, total: int) -> None:
    print(f"\rpreparing data: {stage} {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)


def _results(path: Path, config: RunConfig, manifest: dict[str, Any], constant: dict[str, Any] | None,
             outcome: TrialOutcome) -> dict[str, Any]:
    record = dataclasses.asdict(outcome)
    record["status"] = outcome.status.value
    return {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "model": str(path),
        "config": config.to_dict(),
        "data": {"name": manifest.get("name"), "splits": manifest.get("splits"),
                 "constant_caption": constant},
        "outcome": record,
    }


def _print_report(outcome: TrialOutcome, constant: dict[str, Any] | None, out: Path) -> None:
    columns = [c for c in METRIC_COLUMNS if any(c in e.val_metrics for e in outcome.epochs)]
    headers = ["epoch", "loss", *columns, "own BLEU-4", "train s", "img/s"]
    rows = []
    for e in outcome.epochs:
        own = "-" if e.val_metrics_own is None else _fmt(e.val_metrics_own.get("Bleu_4"))
        marker = "*" if e.epoch == outcome.best_epoch else ""
        rows.append([f"{e.epoch}{marker}", _fmt(e.probe_loss), *[_fmt(e.val_metrics.get(c)) for c in columns], own,
                     _fmt(e.train_seconds, 1), _fmt(e.images_per_second, 0)])
    if outcome.test_metrics is not None:
        own = "-" if outcome.test_metrics_own is None else _fmt(outcome.test_metrics_own.get("Bleu_4"))
        rows.append([f"test@{outcome.best_epoch}", "-", *[_fmt(outcome.test_metrics.get(c)) for c in columns], own, "-", "-"])
    if rows:
        print(format_table(headers, rows))
        print("val metrics per epoch (* the val-selected epoch); loss: cross-entropy on a fixed training batch; "
              "own BLEU-4: the model's own forward(images) decoding, not the score of record")
    _print_summary(outcome, constant, out)


def _print_summary(outcome: TrialOutcome, constant: dict[str, Any] | None, out: Path) -> None:
    detail = f": {outcome.message}" if outcome.message else ""
    print(f"\nstatus: {outcome.status.value}{detail}")
    if outcome.stop_reason:
        print(f"stopped: {outcome.stop_reason}")
    if constant:
        print(f"best constant caption: \"{constant['caption']}\" (val BLEU-4 {constant['val_bleu4']:.3f}, "
              f"test BLEU-4 {constant['test_bleu4']:.3f}, on the same images as the model)")
    params = "-" if outcome.parameters is None else f"{outcome.parameters:,}"
    flops = "-" if outcome.flops_per_image is None else f"{outcome.flops_per_image / 1e6:.1f} MFLOPs"
    rss = "-" if outcome.peak_rss_bytes is None else f"{outcome.peak_rss_bytes / 2**20:.0f} MiB"
    print(f"parameters {params}; {flops} per image; peak memory {rss}; {outcome.seconds:.0f} s in all")
    print(f"results: {out / 'results.json'}")


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
