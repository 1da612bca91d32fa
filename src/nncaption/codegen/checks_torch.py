"""Checks against the installed torch (names that do not exist) and warnings for suspicious code."""

from __future__ import annotations

import ast
import difflib
import functools
import importlib
import importlib.util
import types
from collections.abc import Iterator

from nncaption.codegen.astfacts import ModuleFacts
from nncaption.codegen.validate import Violation, register, violation

_CHECKED_ROOTS = ("torch", "torchvision")


@functools.lru_cache(maxsize=4096)
def missing_name(path: str) -> tuple[str, str, tuple[str, ...]] | None:
    """Look `path` up in the installed package; return (existing prefix, missing part, suggestions) or None.

    Only attributes of modules are checked: once the path reaches a class, a function or a
    submodule that is not imported yet, the rest of it is accepted. The look-up imports the
    root package (torch or torchvision) and whatever that package's lazy attributes load.
    """
    parts = path.split(".")
    if parts[0] not in _CHECKED_ROOTS or importlib.util.find_spec(parts[0]) is None:
        return None
    current: object = importlib.import_module(parts[0])
    for index, part in enumerate(parts[1:], start=1):
        if not isinstance(current, types.ModuleType):
            return None
        prefix = ".".join(parts[:index])
        if hasattr(current, part):
            current = getattr(current, part)
            continue
        if _submodule_exists(f"{prefix}.{part}"):
            return None  # a submodule that is not imported yet; locating it is enough
        return prefix, part, _similar_names(part, dir(current))
    return None


def _submodule_exists(name: str) -> bool:
    """Locate a submodule of an imported package without running it."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _similar_names(name: str, candidates: list[str]) -> tuple[str, ...]:
    """Return up to three existing names close to `name`, comparing case-insensitively."""
    by_lower: dict[str, str] = {}
    for candidate in candidates:
        if not candidate.startswith("_"):
            by_lower.setdefault(candidate.lower(), candidate)
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)
    return tuple(by_lower[match] for match in close)


def _report(node: ast.AST, path: str) -> Iterator[Violation]:
    missing = missing_name(path)
    if missing is None:
        return
    prefix, part, suggestions = missing
    if f"{prefix}.{part}" != path:
        return  # an inner part of the chain is missing; the inner node reports it
    if suggestions:
        hint = f"did you mean {' or '.join(f'{prefix}.{s}' for s in suggestions)}?"
    else:
        hint = f"no similar name exists in {prefix}; build the layer from names that {prefix} has"
    yield violation("unknown-torch-name", node, f"'{path}' does not exist in the installed {prefix.split('.')[0]}", hint)


@register("unknown-torch-name")
def check_torch_names(facts: ModuleFacts) -> Iterator[Violation]:
    for node in facts.nodes:
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            path = facts.resolve(node)
            if path is not None:
                yield from _report(node, path)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if alias.name != "*":
                    yield from _report(node, f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield from _report(node, alias.name)


def _shape_index(node: ast.AST, name: str) -> int | None:
    """Return the constant index of `name[i]` or `self.name[i]`, else None."""
    if not isinstance(node, ast.Subscript):
        return None
    holder = node.value
    named = (isinstance(holder, ast.Name) and holder.id == name) or (
        isinstance(holder, ast.Attribute) and holder.attr == name
    )
    index = node.slice
    if named and isinstance(index, ast.Constant) and isinstance(index.value, int):
        return index.value
    return None


@register("in-shape-channels", "out-shape-index", "cuda-call")
def check_suspicious(facts: ModuleFacts) -> Iterator[Violation]:
    for node in facts.nodes:
        if _shape_index(node, "in_shape") == 0:
            yield violation("in-shape-channels", node, "in_shape[0] is the batch size, not the channel count")
        index = _shape_index(node, "out_shape")
        if index is not None and index >= 1:
            yield violation("out-shape-index", node, f"out_shape[{index}] does not exist: out_shape is (vocab_size,)")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "cuda":
            yield violation("cuda-call", node, ".cuda() ignores the device the harness passes")


@register("hardcoded-vocab-size")
def check_hardcoded_vocab(facts: ModuleFacts) -> Iterator[Violation]:
    for node in facts.nodes:
        if isinstance(node, ast.Assign) and _int_constant(node.value):
            for target in node.targets:
                name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", "")
                if "vocab" in name.lower():
                    yield violation("hardcoded-vocab-size", node, f"{name} is set to the number {node.value.value}")
        elif isinstance(node, ast.Call) and facts.resolve(node.func) == "torch.nn.Embedding":
            first = node.args[0] if node.args else None
            for keyword in node.keywords:
                if keyword.arg == "num_embeddings":
                    first = keyword.value
            if _int_constant(first):
                yield violation("hardcoded-vocab-size", node, "nn.Embedding takes a fixed number of embeddings")


def _int_constant(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int and node.value > 1
