"""Checks of the import and call policy: what a model file may import, call and reach."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from nncaption.codegen.astfacts import ModuleFacts, string_constant
from nncaption.codegen.validate import Violation, register, violation
from nncaption.contract import (
    ALLOWED_IMPORT_ROOTS,
    BANNED_BUILTINS,
    BANNED_CALLS,
    BANNED_METHODS,
    BANNED_MODULE_NAMES,
    BANNED_SUBMODULES,
    DUNDER_ESCAPES,
    PRETRAINED_CALLS,
    WEIGHT_DOWNLOAD_MODULES,
)

_ATTRIBUTE_FUNCTIONS = {"getattr", "setattr", "delattr", "hasattr"}


def _banned_submodule(module: str) -> str | None:
    for banned in BANNED_SUBMODULES:
        if module == banned or module.startswith(banned + "."):
            return banned
    return None


@register("import-not-allowed")
def check_imports(facts: ModuleFacts) -> Iterator[Violation]:
    for node in facts.nodes:
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                yield violation("import-not-allowed", node, "relative imports are not allowed in a model file")
                continue
            base = node.module or ""
            modules = [base] + [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
        else:
            continue
        # `import a, b` names separate modules, each reported; `from a import b` stops at the first finding.
        for module in modules:
            root = module.split(".")[0]
            banned = _banned_submodule(module)
            if root not in ALLOWED_IMPORT_ROOTS:
                yield violation("import-not-allowed", node, f"import of '{module}' is not allowed")
            elif banned:
                yield violation("import-not-allowed", node, f"import of '{banned}' is not allowed")
            else:
                continue
            if isinstance(node, ast.ImportFrom):
                break


@register("pretrained-weights")
def check_pretrained(facts: ModuleFacts) -> Iterator[Violation]:
    for node in facts.nodes:
        if isinstance(node, ast.Call):
            yield from _pretrained_call(facts, node)
        elif isinstance(node, ast.Attribute) and node.attr.endswith("_Weights"):
            yield violation("pretrained-weights", node, f"'{node.attr}' is a pretrained-weights enum")
        elif isinstance(node, ast.Name) and node.id.endswith("_Weights") and isinstance(node.ctx, ast.Load):
            yield violation("pretrained-weights", node, f"'{node.id}' is a pretrained-weights enum")
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name.endswith("_Weights") or alias.name in PRETRAINED_CALLS:
                    yield violation("pretrained-weights", node, f"import of '{alias.name}' fetches pretrained weights")


def _pretrained_call(facts: ModuleFacts, node: ast.Call) -> Iterator[Violation]:
    name = _called_name(node.func)
    path = facts.resolve(node.func) or ""
    if name in PRETRAINED_CALLS:
        yield violation("pretrained-weights", node, f"{name}() fetches pretrained weights")
        return
    if path.startswith("torch.hub."):
        yield violation("pretrained-weights", node, f"{path}() loads a model or weights from the hub")
        return
    for keyword in node.keywords:
        value = keyword.value
        if keyword.arg == "pretrained" and not (isinstance(value, ast.Constant) and value.value in (False, None)):
            yield violation("pretrained-weights", keyword.value, "pretrained= must be False or left out")
        elif keyword.arg == "weights" and path.startswith("torchvision.") and not (
            isinstance(value, ast.Constant) and value.value is None
        ):
            yield violation("pretrained-weights", keyword.value, "weights= must be None for torchvision models")


def _called_name(func: ast.AST) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


@register("banned-call")
def check_banned_calls(facts: ModuleFacts) -> Iterator[Violation]:
    for node in [*facts.nodes, *facts.literal_getattrs]:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id in BANNED_BUILTINS and node.id not in facts.bound_names:
                yield violation("banned-call", node, f"'{node.id}' is not allowed in a model file")
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            path = facts.resolve(node)
            if path in BANNED_CALLS:
                yield violation("banned-call", node, f"'{path}' reads, writes or loads files or code")
            elif path is not None and _under_banned_submodule(path):
                yield violation("banned-call", node, f"'{path}' belongs to a module that model files may not use")
            elif node.attr in BANNED_METHODS and _is_module_like(facts, node.value):
                yield violation("banned-call", node, f"'.{node.attr}()' reads or writes files or shared memory")
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                if f"{node.module}.{alias.name}" in BANNED_CALLS:
                    yield violation("banned-call", node, f"'{node.module}.{alias.name}' is not allowed")


def _under_banned_submodule(path: str) -> bool:
    banned = _banned_submodule(path)
    return banned is not None and path != banned and banned not in WEIGHT_DOWNLOAD_MODULES


@register("banned-module")
def check_banned_modules(facts: ModuleFacts) -> Iterator[Violation]:
    for node in [*facts.nodes, *facts.literal_getattrs]:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in BANNED_MODULE_NAMES:
            if _names_banned_module(facts, node.id):
                yield violation("banned-module", node, f"the module '{node.id}' is not allowed")
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name in BANNED_MODULE_NAMES:
                    yield violation("banned-module", node, f"'{alias.name}' is a banned module")
        elif isinstance(node, ast.Attribute) and node.attr in BANNED_MODULE_NAMES:
            if _is_module_like(facts, node.value):
                yield violation("banned-module", node, f"'.{node.attr}' reaches a banned module")


def _names_banned_module(facts: ModuleFacts, name: str) -> bool:
    """True when `name` is an imported banned module or a name the file never binds (an injected global)."""
    if name in facts.aliases:
        return facts.aliases[name].split(".")[0] in BANNED_MODULE_NAMES
    return name not in facts.bound_names


def _is_module_like(facts: ModuleFacts, node: ast.AST) -> bool:
    """True unless the attribute chain starts at `self`, whose attributes are layers, not modules."""
    root = node
    while isinstance(root, ast.Attribute):
        root = root.value
    return not (isinstance(root, ast.Name) and root.id == "self")


@register("dunder-escape")
def check_dunder_escapes(facts: ModuleFacts) -> Iterator[Violation]:
    for node in facts.nodes:
        if isinstance(node, ast.Attribute) and node.attr in DUNDER_ESCAPES:
            yield violation("dunder-escape", node, f"'{node.attr}' reaches interpreter internals")
        elif isinstance(node, ast.Name) and node.id in DUNDER_ESCAPES and node.id not in BANNED_BUILTINS:
            yield violation("dunder-escape", node, f"'{node.id}' reaches interpreter internals")


@register("dunder-getattr", "dynamic-getattr")
def check_attribute_functions(facts: ModuleFacts) -> Iterator[Violation]:
    for node in facts.nodes:
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) >= 2):
            continue
        if node.func.id not in _ATTRIBUTE_FUNCTIONS:
            continue
        name_node = node.args[1]
        literal = string_constant(name_node)
        if literal is not None:
            if literal.startswith("__") or literal in DUNDER_ESCAPES:
                yield violation("dunder-getattr", node, f"{node.func.id}() with the dunder name '{literal}'")
        elif _builds_string(name_node):
            yield violation("dunder-getattr", node, f"{node.func.id}() with a name built at run time")
        else:
            yield violation("dynamic-getattr", node, f"{node.func.id}() with a variable attribute name")


def _builds_string(node: ast.AST) -> bool:
    if isinstance(node, ast.BinOp | ast.JoinedStr):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr in ("join", "format", "replace", "strip", "lstrip", "rstrip", "upper", "lower")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id in ("chr", "str", "bytes")
    return False
