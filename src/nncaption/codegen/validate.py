"""Static validation of a candidate model file against the Net API and the import/call policy.

`validate_source` parses the file and runs every registered check on its syntax tree.
It never imports or runs the candidate; the only module it imports on the candidate's
behalf is the installed torch, to look up `torch.nn` names.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

from nncaption.codegen.astfacts import ModuleFacts, collect_facts
from nncaption.contract import RULES_BY_ID
from nncaption.status import Status

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Violation:
    """One finding of the static validator. `line` and `col` are 1-based."""

    rule: str
    severity: str  # 'error' or 'warning'
    line: int
    col: int
    message: str
    hint: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def violation(rule: str, node: ast.AST | None, message: str, hint: str | None = None) -> Violation:
    """Build a Violation of `rule` at `node` (line 1, column 1 for file-wide findings)."""
    spec = RULES_BY_ID[rule]
    line = getattr(node, "lineno", 1) or 1
    col = (getattr(node, "col_offset", 0) or 0) + 1
    return Violation(rule, spec.severity, line, col, message, hint or spec.hint)


CheckFunction = Callable[[ModuleFacts], Iterable[Violation]]


@dataclass(frozen=True)
class Check:
    """A registered check and the rule ids it may report."""

    name: str
    rules: tuple[str, ...]
    function: CheckFunction


CHECKS: list[Check] = []
SOURCE_RULES = ("empty-file", "not-utf8", "syntax-error")  # reported by validate_source itself


def register(*rules: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check function under the rule ids it reports."""

    def decorate(function: CheckFunction) -> CheckFunction:
        unknown = [rule for rule in rules if rule not in RULES_BY_ID]
        assert not unknown, f"check {function.__name__} names rules missing from the contract: {unknown}"
        CHECKS.append(Check(function.__name__, rules, function))
        return function

    return decorate


def checked_rules() -> set[str]:
    """Return every rule id that the validator can report."""
    _load_checks()
    return set(SOURCE_RULES).union(*(check.rules for check in CHECKS))


def validate_source(source: str | bytes, filename: str = "model.py") -> list[Violation]:
    """Return the violations of the Net API and the policy in `source`, sorted by position."""
    _load_checks()
    text, problem = _decode(source)
    if problem is not None:
        return [problem]

    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as exc:
        return [Violation("syntax-error", "error", exc.lineno or 1, max(exc.offset or 1, 1), str(exc.msg),
                          RULES_BY_ID["syntax-error"].hint)]
    except (ValueError, RecursionError, MemoryError) as exc:
        return [violation("syntax-error", None, f"the parser rejected the file: {type(exc).__name__}: {exc}")]

    if all(_is_docstring(statement) for statement in tree.body):
        return [violation("empty-file", None, "the file contains no statements, only comments or a docstring")]

    facts = collect_facts(tree)
    found: list[Violation] = []
    for check in CHECKS:
        found.extend(check.function(facts))
    found = sorted(set(found), key=lambda v: (v.line, v.col, v.rule, v.message))
    log.debug("validated %s: %d violation(s)", filename, len(found))
    return found


def _is_docstring(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)


def _decode(source: str | bytes) -> tuple[str, Violation | None]:
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = source.count(b"\n", 0, exc.start) + 1
            col = exc.start - (source.rfind(b"\n", 0, exc.start) + 1) + 1
            message = f"byte 0x{source[exc.start]:02x} at offset {exc.start} is not valid UTF-8"
            return "", Violation("not-utf8", "error", line, col, message, RULES_BY_ID["not-utf8"].hint)
    try:
        source.encode("utf-8")
    except UnicodeEncodeError as exc:  # a str with lone surrogates, e.g. decoded with errors="surrogateescape"
        line = source.count("\n", 0, exc.start) + 1
        col = exc.start - (source.rfind("\n", 0, exc.start) + 1) + 1
        message = f"character U+{ord(source[exc.start]):04X} at offset {exc.start} cannot be encoded as UTF-8"
        return "", Violation("not-utf8", "error", line, col, message, RULES_BY_ID["not-utf8"].hint)
    source = source.removeprefix("\ufeff")
    if not source.strip():
        return "", violation("empty-file", None, "the file is empty or contains only whitespace")
    return source, None


# Precedence of the statuses when a file breaks several rules: the first match wins.
_STATUS_PRECEDENCE = (Status.SYNTAX_ERROR, Status.POLICY_VIOLATION, Status.CONTRACT_VIOLATION)


def status_for(violations: list[Violation]) -> Status | None:
    """Return the candidate status for these violations, or None when there are only warnings."""
    statuses = {RULES_BY_ID[v.rule].status for v in violations if v.severity == "error"}
    for status in _STATUS_PRECEDENCE:
        if status in statuses:
            return status
    return None


def errors_of(violations: list[Violation]) -> list[Violation]:
    return [v for v in violations if v.severity == "error"]


def _load_checks() -> None:
    # The check modules register themselves on import; importing them here keeps the
    # registry complete no matter which module a caller imported first.
    from nncaption.codegen import checks_net, checks_policy, checks_torch  # noqa: F401
