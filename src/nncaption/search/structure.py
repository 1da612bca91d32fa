"""Structural hash of a model file: equal for files that differ only in comments, names and layout.

The hash is the SHA-256 of a normalised AST dump. Docstrings are dropped, and every name the
file defines itself (functions, classes, arguments, variables, `self.<attribute>` members) is
renamed to a placeholder numbered by first appearance. Names the file does not define
(`torch`, `nn.Linear`, builtins) and the names the Net API fixes keep their spelling, so two
files that call different layers or use different sizes still hash differently.
"""

from __future__ import annotations

import ast
import hashlib
import logging

log = logging.getLogger(__name__)

# Names that the Net API and Python fix; renaming them would merge files that differ in meaning.
KEPT_NAMES = frozenset({
    "Net", "supported_hyperparameters", "__init__", "train_setup", "learn", "forward", "self",
    "in_shape", "out_shape", "prm", "device", "images", "captions", "hidden_state", "train_data",
})


class _Renamer(ast.NodeTransformer):
    """Renames the file's own identifiers to `v0`, `v1`, ... in order of first appearance."""

    def __init__(self, defined: set[str]) -> None:
        self.defined = defined
        self.names: dict[str, str] = {}

    def _rename(self, name: str) -> str:
        if name in KEPT_NAMES or name not in self.defined:
            return name
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self._rename(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self._rename(node.arg)
        node.annotation = None
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.value, ast.Name) and node.value.id == "self":
            node.attr = self._rename(node.attr)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.name = self._rename(node.name)
        node.returns = None
        _drop_docstring(node)
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.name = self._rename(node.name)
        _drop_docstring(node)
        self.generic_visit(node)
        return node

    def visit_keyword(self, node: ast.keyword) -> ast.AST:
        # Keyword names of calls into the file's own functions follow their parameters' renaming.
        if node.arg is not None:
            node.arg = self._rename(node.arg)
        self.generic_visit(node)
        return node


def _drop_docstring(node: ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> None:
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        node.body = body[1:] or [ast.Pass()]


def _defined_names(tree: ast.Module) -> set[str]:
    """Collect the identifiers the file binds itself (not those it imports or inherits)."""
    defined: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            defined.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Name) and node.value.id == "self":
                defined.add(node.attr)
    return defined


def structure_hash(source: str) -> str | None:
    """Return the structural hash of `source`, or None when it does not parse.

    A file that parses but is too deeply nested to walk (RecursionError), or that fails the
    normalisation in any other way, gets the SHA-256 of its text instead, so only exact
    copies of it count as duplicates.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    try:
        return _normalised_hash(tree)
    except Exception as exc:  # noqa: BLE001 - a hash failure must not end the search
        log.warning("structural hash failed (%s: %s); using the hash of the source text", type(exc).__name__, exc)
        return hashlib.sha256(source.encode("utf-8")).hexdigest()


def _normalised_hash(tree: ast.Module) -> str:
    _drop_docstring(tree)
    tree = _Renamer(_defined_names(tree)).visit(tree)
    dump = ast.dump(tree, annotate_fields=False, include_attributes=False)
    return hashlib.sha256(dump.encode("utf-8")).hexdigest()
