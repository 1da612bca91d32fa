"""Code snippets of zoo files for prompts: the building blocks and stem, within a size budget.

A snippet is cut from whole top-level statements, so it is always valid Python. Pieces
are taken in this order until the budget is spent, and printed in their order in the file:

1. the imports;
2. the module constants (DEFAULT_WIDTH, STRIDE, stage tables);
3. the building-block classes and helper functions, first to last;
4. the stem: `Features`, or `Net` in a file without Features (a LEMUR classification file);
5. any other top-level statement.

`supported_hyperparameters` and the classification `Net` of a file with Features are
never included. A piece that does not fit is first retried without docstrings, then
(except for step 5) as an outline whose method bodies are `...`. Pieces that still do
not fit are left out.
"""

from __future__ import annotations

import ast
import logging
from dataclasses import dataclass

from nncaption.errors import UsageError

log = logging.getLogger(__name__)

STEM_PRIORITY = 3  # pieces up to the stem may shrink to an outline; later ones come whole or not at all


@dataclass
class _Piece:
    index: int  # position of the statement in the module body
    priority: int
    node: ast.stmt
    text: str


def _priority(node: ast.stmt, has_features: bool) -> int:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return 0
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        return 1
    if isinstance(node, ast.ClassDef):
        return 3 if node.name in ("Features", "Net") else 2
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return 2  # helpers such as channel rounding are part of the building blocks
    return 4


def _segment(source: str, node: ast.stmt) -> str:
    lines = source.splitlines()
    decorators = getattr(node, "decorator_list", [])
    first = min([node.lineno] + [d.lineno for d in decorators])
    return "\n".join(lines[first - 1 : node.end_lineno or node.lineno])


def _without_docstrings(node: ast.stmt) -> str:
    """Re-print a statement with ast.unparse, dropping every docstring (comments are lost too)."""
    copy = ast.parse(ast.unparse(node)).body[0]
    for inner in ast.walk(copy):
        body = getattr(inner, "body", None)
        if isinstance(inner, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                inner.body = body[1:] or [ast.Expr(ast.Constant(...))]
    return ast.unparse(copy)


def _outline(node: ast.stmt) -> str:
    """A class or function with each function body replaced by `...`: names and signatures only."""
    copy = ast.parse(ast.unparse(node)).body[0]
    for inner in ast.walk(copy):
        if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inner.body = [ast.Expr(ast.Constant(...))]
        elif isinstance(inner, ast.ClassDef):
            inner.body = [s for s in inner.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))] or [
                ast.Expr(ast.Constant(...))
            ]
    return ast.unparse(copy)


def _variants(source: str, node: ast.stmt, priority: int) -> list[str]:
    variants = [_segment(source, node)]
    if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        variants.append(_without_docstrings(node))
        if priority <= STEM_PRIORITY:
            variants.append(_outline(node))
    return variants


def _group(node: ast.stmt) -> str:
    if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        return "definition"
    return "import" if isinstance(node, (ast.Import, ast.ImportFrom)) else "statement"


def _separator(previous: _Piece, piece: _Piece) -> str:
    groups = {_group(previous.node), _group(piece.node)}
    if "definition" in groups:
        return "\n\n\n"
    if len(groups) == 2:
        return "\n\n"
    return "\n"


def _join(pieces: list[_Piece]) -> str:
    """Pieces in file order: two blank lines around definitions, one between groups of statements."""
    ordered = sorted(pieces, key=lambda piece: piece.index)
    parts: list[str] = []
    for previous, piece in zip([None, *ordered], ordered, strict=False):
        if previous is not None:
            parts.append(_separator(previous, piece))
        parts.append(piece.text)
    return "".join(parts) + "\n" if parts else ""


def _is_skipped(index: int, node: ast.stmt, has_features: bool) -> bool:
    """Tell whether a statement stays out of every snippet: the module docstring, __future__
    imports, `if __name__ == "__main__":` blocks, supported_hyperparameters, and the
    classification Net of a file that has Features."""
    if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
        return node.name == "supported_hyperparameters" or (node.name == "Net" and has_features)
    if isinstance(node, ast.ImportFrom) and node.module == "__future__":
        return True
    if isinstance(node, ast.If) and "__name__" in ast.unparse(node.test):
        return True
    return index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def extract_snippet(source: str, budget_chars: int) -> str:
    """Cut the building blocks and stem of a model file into at most `budget_chars` characters.

    Returns valid Python (possibly empty when even the imports do not fit). Raises
    UsageError when `source` is not valid Python.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise UsageError(f"cannot cut a snippet: the source is not valid Python (line {exc.lineno}: {exc.msg})") from exc
    has_features = any(isinstance(n, ast.ClassDef) and n.name == "Features" for n in tree.body)

    candidates = [
        (index, node) for index, node in enumerate(tree.body) if not _is_skipped(index, node, has_features)
    ]
    candidates.sort(key=lambda item: (_priority(item[1], has_features), item[0]))

    chosen: list[_Piece] = []
    for index, node in candidates:
        priority = _priority(node, has_features)
        for text in _variants(source, node, priority):
            piece = _Piece(index, priority, node, text)
            if len(_join([*chosen, piece])) <= budget_chars:
                chosen.append(piece)
                break
        else:
            log.debug("snippet budget %d leaves out statement %d (%s)", budget_chars, index, type(node).__name__)

    snippet = _join(chosen)
    ast.parse(snippet)  # internal invariant: whole statements always parse
    return snippet
