"""`nncaption check MODEL.py`: the static verdict, then the behavioural checks in a child process.

Exit status: 0 when the file is valid, 1 when it is invalid, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from nncaption.codegen.validate import Violation, status_for, validate_source
from nncaption.contract import DEFAULT_PARAM_BUDGET
from nncaption.sandbox import SandboxLimits, run_in_sandbox
from nncaption.sandbox.outcome import classify_failure, failed_check_status
from nncaption.status import Status
from nncaption.trial.check_child import DEFAULT_REQUEST

CHILD_ENTRY = "nncaption.trial.check_child"
# Name of the copy of the model file inside the sandbox's working folder.
SANDBOX_MODEL_NAME = "model.py"
# The location that the behavioural checks append to a candidate's exception message,
# e.g. " (model.py line 42, in forward)". nncaption.trial.behaviour._candidate_location writes it.
_CANDIDATE_LOCATION = re.compile(r" \((?P<file>[^()]+) line (?P<line>\d+), in (?P<function>[^()]*)\)$")
JSON_SCHEMA_VERSION = 1
EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check",
        help="validate a model file against the Net API and run the behavioural checks",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("model", metavar="MODEL.py", help="the model file to check")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument("--no-run", action="store_true", help="static validation only; do not build the model")
    parser.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS",
                        help="wall-clock limit of the behavioural checks, in seconds (default: 120)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_REQUEST["batch_size"], help="images in the batch")
    parser.add_argument("--image-size", type=int, default=DEFAULT_REQUEST["image_size"], help="image side, in pixels")
    parser.add_argument("--vocab-size", type=int, default=DEFAULT_REQUEST["vocab_size"],
                        help="vocabulary size, special tokens included")
    parser.add_argument("--seq-len", type=int, default=DEFAULT_REQUEST["seq_len"],
                        help="caption length in tokens, <SOS> and <EOS> included")
    parser.add_argument("--param-budget", type=int, default=DEFAULT_PARAM_BUDGET, help="maximum parameter count")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic batch")
    parser.set_defaults(run=run)


def _usage_problem(args: argparse.Namespace) -> str | None:
    path = Path(args.model)
    if not path.exists():
        return f"model file {path} not found; pass the path of a Python model file"
    if path.is_dir():
        return f"model file {path} is a directory; pass the path of a Python model file"
    if not path.is_file():
        return f"model file {path} is not a regular file; pass the path of a Python model file"
    if args.vocab_size < 5:
        return f"--vocab-size must be at least 5 (4 special tokens and a word), got {args.vocab_size}"
    # The upper bounds keep an oversized dummy batch from being blamed on the model as out_of_memory.
    for option, value, minimum, maximum in (
        ("--batch-size", args.batch_size, 1, 1024),
        ("--image-size", args.image_size, 8, 1024),
        ("--vocab-size", args.vocab_size, 5, 1_000_000),
        ("--seq-len", args.seq_len, 4, 512),
        ("--param-budget", args.param_budget, 1, None),
    ):
        if value < minimum:
            return f"{option} must be at least {minimum}, got {value}"
        if maximum is not None and value > maximum:
            return f"{option} must be at most {maximum:,}, got {value:,}"
    if not (args.timeout > 0 and math.isfinite(args.timeout)):
        return f"--timeout must be a positive number of seconds, got {args.timeout:g}"
    return None


def run(args: argparse.Namespace) -> int:
    problem = _usage_problem(args)
    if problem:
        print(f"nncaption check: error: {problem}", file=sys.stderr)
        return EXIT_USAGE

    path = Path(args.model)
    try:
        source = path.read_bytes()
    except OSError as exc:
        print(f"nncaption check: error: cannot read model file {path}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    violations = validate_source(source, path.name)
    status = status_for(violations)
    behaviour: dict[str, Any] = {"ran": False, "checks": [], "message": None, "seconds": 0.0}
    if status is not None:
        behaviour["message"] = "not run: the static validation failed"
    elif args.no_run:
        behaviour["message"] = "not run: --no-run"
    else:
        behaviour = _run_behaviour(path, args)
        status = behaviour.pop("status")

    report = {
        "schema_version": JSON_SCHEMA_VERSION,
        "file": str(path),
        "valid": status is None,
        "status": status.value if status is not None else None,
        "violations": [v.to_dict() for v in violations],
        "behaviour": behaviour,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_text(path, violations, report)
    return EXIT_VALID if status is None else EXIT_INVALID


def locate_in_user_file(message: str, user_path: Path | str, copy_name: str = SANDBOX_MODEL_NAME) -> str:
    """Rewrite the location at the end of `message` from the sandbox copy to the user's file.

    " (model.py line 42, in forward)" becomes " (USER_PATH:42, in forward)", the form that
    terminals and editors open at the line. A message without a location in `copy_name`
    is returned unchanged.
    """
    match = _CANDIDATE_LOCATION.search(message)
    if match is None or match["file"] != copy_name:
        return message
    return f"{message[:match.start()]} ({user_path}:{match['line']}, in {match['function']})"


def _run_behaviour(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Run the behavioural checks in a sandboxed child; return checks, status and message."""
    request = {
        **DEFAULT_REQUEST,
        "model_path": SANDBOX_MODEL_NAME,
        "batch_size": args.batch_size,
        "image_size": args.image_size,
        "vocab_size": args.vocab_size,
        "seq_len": args.seq_len,
        "seed": args.seed,
        "param_budget": args.param_budget,
    }
    with tempfile.TemporaryDirectory(prefix="nncaption-check-") as workdir:
        shutil.copyfile(path, Path(workdir) / SANDBOX_MODEL_NAME)
        result = run_in_sandbox(CHILD_ENTRY, request, Path(workdir), SandboxLimits(wall_seconds=args.timeout))

    checks = [_without_type(r) for r in result.records if r.get("type") == "check"]
    for check in checks:
        if isinstance(check.get("message"), str):
            check["message"] = locate_in_user_file(check["message"], path)
    final = next((r for r in result.records if r.get("type") == "result"), None)
    status: Status | None = None
    message = None
    if final is None:
        status, message = classify_failure(result)
    elif not final.get("passed"):
        failed = next((c for c in checks if not c.get("passed") and c.get("severity") == "error"), {})
        status = failed_check_status(str(failed.get("name", "")), str(failed.get("message", "")))
        message = f"{failed.get('name', 'unknown check')}: {failed.get('message', 'no message')}"
    return {"ran": True, "checks": checks, "message": message, "seconds": round(result.seconds, 3), "status": status}


def _without_type(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key != "type"}


def _print_text(path: Path, violations: list[Violation], report: dict[str, Any]) -> None:
    for v in violations:
        prefix = "warning: " if v.severity == "warning" else ""
        print(f"{path}:{v.line}:{v.col} {v.rule} {prefix}{v.message}")
        print(f"    hint: {v.hint}")
    behaviour = report["behaviour"]
    for check in behaviour["checks"]:
        if check.get("passed"):
            verdict = "passed"
        elif check.get("severity") == "error":
            verdict = "FAILED"
        else:
            verdict = "warning"
        seconds = float(check.get("seconds") or 0.0)
        print(f"check {check.get('name', '?'):<22} {verdict:<7} {seconds:7.3f} s  {check.get('message', '')}")
    if behaviour["message"]:
        print(f"behaviour: {behaviour['message']}")
    errors = sum(v.severity == "error" for v in violations)
    warnings = len(violations) - errors
    verdict = "valid" if report["valid"] else f"invalid ({report['status']})"
    print(f"{path}: {verdict}; {errors} static error(s), {warnings} warning(s)")
