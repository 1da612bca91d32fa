"""Source surgery on zoo files with the `ast` module: the encoder part of a backbone."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path

from nncaption.errors import UsageError

# Top-level definitions that belong to the classification model, not to the encoder.
CLASSIFIER_NAMES = frozenset({"Net", "supported_hyperparameters"})


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _is_future_import(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and node.module == "__future__"


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno] + [d.lineno for d in decorators])


def _dropped_lines(tree: ast.Module) -> set[int]:
    """1-based line numbers of the module docstring, __future__ imports, Net and supported_hyperparameters."""
    dropped: set[int] = set()
    for index, node in enumerate(tree.body):
        named = isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name in CLASSIFIER_NAMES
        if named or _is_future_import(node) or (index == 0 and _is_docstring(node)):
            end = node.end_lineno or node.lineno
            dropped.update(range(_first_line(node), end + 1))
    return dropped


def strip_classifier(source: str) -> str:
    """Return `source` without Net, supported_hyperparameters, the module docstring and __future__ imports.

    Everything else (imports, constants, building blocks, Features, comments) keeps its
    original text. Runs of blank lines left by the cut are folded to two.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise UsageError(f"backbone source is not valid Python (line {exc.lineno}: {exc.msg})") from exc
    dropped = _dropped_lines(tree)
    lines = [line for number, line in enumerate(source.splitlines(), start=1) if number not in dropped]

    kept: list[str] = []
    for line in lines:
        if not line.strip() and len(kept) >= 2 and not kept[-1].strip() and not kept[-2].strip():
            continue
        kept.append(line)
    return "\n".join(kept).strip("\n") + "\n"


def encoder_source(name: str, extra_dirs: Sequence[Path | str] = ()) -> str:
    """Return the source of backbone `name` minus its classification Net: imports, blocks, Features.

    The text is valid Python on its own; executing it defines `Features(in_channels, width)`.
    Raises UsageError for a captioner or a backbone file without Features and DEFAULT_WIDTH.
    """
    from nncaption.zoo.registry import get_entry

    entry = get_entry(name, extra_dirs, probe=False)
    if entry.kind != "backbone":
        reason = "it is a captioner, not a backbone"
    elif not entry.has_features:
        reason = "it defines no Features(in_channels, width) class or no DEFAULT_WIDTH constant"
    else:
        return strip_classifier(entry.source())
    raise UsageError(
        f"zoo entry {name!r} ({entry.path}) cannot serve as an encoder because {reason}; "
        "pick an entry that 'nncaption zoo --kind backbone' lists with feature dimensions"
    )
