"""Deterministic repairs that keep a model's meaning.

Each repair fixes one kind of transcription damage that an LLM reply or its extraction leaves
behind: stray fences, prose around the code, typographic quotes, a uniformly indented block,
mixed tabs, a missing standard import, a wrongly cased torch name, a hyperparameter list
written as a method of Net rather than at module level. A repair only runs when its
damage is present, and the text-level repairs only run when the file does not parse, so a valid
file passes through unchanged. None of them sets a hyperparameter, reorders tensor indices or
adds training code. Every applied repair is recorded with its name, reason and the sha256 of
the source before and after.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import keyword
import re
import textwrap
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from nncaption.contract import HYPERPARAMETER_FUNCTION


@dataclass(frozen=True)
class RepairRecord:
    """One applied repair."""

    name: str
    reason: str
    before_sha256: str
    after_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# A repair returns the new source and the reason, or None when it does not apply.
RepairFn = Callable[[str], "tuple[str, str] | None"]

_FENCE_LINE = re.compile(r"^\s*(`{3,}|~{3,})[\w+-]*\s*$")
# Markdown around code: headings of two or more hashes (one hash reads as a Python comment),
# bullets, numbered items, quotes, bold text.
_MARKDOWN_PROSE = re.compile(r"^(#{2,6} |[-*+] |\d+[.)] |> |\*\*)")
_LOOKALIKES = {
    "\u201c": '"',  # left double quotation mark
    "\u201d": '"',  # right double quotation mark
    "\u201e": '"',  # double low-9 quotation mark
    "\u2018": "'",  # left single quotation mark
    "\u2019": "'",  # right single quotation mark
    "\u00a0": " ",  # no-break space
    "\u200b": "",  # zero-width space
    "\ufeff": "",  # byte order mark
    "\u2212": "-",  # minus sign
}


def parses(source: str) -> bool:
    return _error_line(source) is None


def _error_line(source: str) -> int | None:
    """Return the line of the first syntax error, or None when the source parses."""
    try:
        ast.parse(source)
    except SyntaxError as exc:
        return exc.lineno or 0
    except ValueError:  # null bytes
        return 0
    return None


def _progresses(before: str, after: str) -> bool:
    """Return True when `after` parses, or when its first syntax error comes later than in `before`."""
    after_line = _error_line(after)
    if after_line is None:
        return True
    before_line = _error_line(before)
    return before_line is not None and after_line > before_line


def strip_stray_fences(source: str) -> tuple[str, str] | None:
    """Remove lines that are only a Markdown fence, left over from extraction."""
    lines = source.split("\n")
    code_lines = [line for line in lines if not _FENCE_LINE.match(line)]
    if len(code_lines) == len(lines) or parses(source):
        return None
    return "\n".join(code_lines), f"removed {len(lines) - len(code_lines)} Markdown fence line(s)"


def _is_prose(line: str) -> bool:
    """Return True when a line reads as Markdown or English text rather than Python."""
    stripped = line.strip()
    if not stripped or line[:1] in (" ", "\t"):
        return False
    if _MARKDOWN_PROSE.match(stripped):
        return True
    if stripped.startswith("#"):
        return False
    words = stripped.split()
    if keyword.iskeyword(words[0].rstrip(":")) or stripped.endswith((",", "(", "[", "{", "\\")):
        return False
    return len(words) >= 3 and not parses(stripped)


def strip_surrounding_prose(source: str) -> tuple[str, str] | None:
    """Remove prose lines before the first and after the last line of code, if the rest parses."""
    if parses(source):
        return None
    lines = source.split("\n")
    start = 0
    while start < len(lines) and (not lines[start].strip() or _is_prose(lines[start])):
        start += 1
    end = len(lines)
    while end > start and (not lines[end - 1].strip() or _is_prose(lines[end - 1])):
        end -= 1
    removed = sum(1 for line in lines[:start] + lines[end:] if line.strip())
    if removed == 0:
        return None
    candidate = "\n".join(lines[start:end]) + "\n"
    if not parses(candidate):
        return None
    return candidate, f"removed {removed} prose line(s) around the code"


def normalise_lookalikes(source: str) -> tuple[str, str] | None:
    """Replace typographic quotes, no-break spaces and minus signs with their ASCII forms."""
    if parses(source):
        return None
    found = sorted({ch for ch in source if ch in _LOOKALIKES})
    if not found:
        return None
    # A right single quote between two letters is an apostrophe inside text; keep it there.
    fixed = re.sub(r"(?<=[^\W\d_])\u2019(?=[^\W\d_])", "\u0000", source)
    fixed = fixed.translate(str.maketrans(_LOOKALIKES)).replace("\u0000", "\u2019")
    if fixed == source:
        return None
    found = [ch for ch in found if source.count(ch) != fixed.count(ch)]
    names = ", ".join(f"U+{ord(ch):04X}" for ch in found)
    return fixed, f"replaced typographic characters {names} with ASCII"


def dedent_block(source: str) -> tuple[str, str] | None:
    """Remove indentation that every line shares (a block copied from inside a list item)."""
    if parses(source):
        return None
    fixed = textwrap.dedent(source)
    if fixed == source or not _progresses(source, fixed):
        return None
    return fixed, "removed indentation common to every line"


def normalise_tabs(source: str) -> tuple[str, str] | None:
    """Expand tabs in leading whitespace to 4 spaces when tabs and spaces are mixed."""
    if parses(source) or "\t" not in source:
        return None
    lines = source.split("\n")
    fixed_lines = []
    for line in lines:
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        fixed_lines.append(indent.replace("\t", "    ") + line[len(indent) :])
    fixed = "\n".join(fixed_lines)
    if fixed == source or not parses(fixed):
        return None
    return fixed, "expanded tabs in indentation to 4 spaces"


# Standard names an LLM uses without importing them, and the import that defines each.
STANDARD_IMPORTS: dict[str, str] = {
    "torch": "import torch",
    "nn": "import torch.nn as nn",
    "F": "import torch.nn.functional as F",
    "math": "import math",
    "Optional": "from typing import Optional",
    "List": "from typing import List",
    "Tuple": "from typing import Tuple",
    "Dict": "from typing import Dict",
    "Any": "from typing import Any",
    "OrderedDict": "from collections import OrderedDict",
    "partial": "from functools import partial",
}


def _bound_names(tree: ast.Module) -> set[str]:
    """Names the module binds anywhere: imports, assignments, definitions, arguments, targets."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update(node.names)
    return bound


def add_missing_imports(source: str) -> tuple[str, str] | None:
    """Add the standard import for a well-known name the code uses but never defines."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    if any(isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names) for n in ast.walk(tree)):
        return None

    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    unbound = used - _bound_names(tree)
    missing = [name for name in STANDARD_IMPORTS if name in unbound]
    if not missing:
        return None

    lines = source.split("\n")
    at = _import_insertion_line(tree)
    added = [STANDARD_IMPORTS[name] for name in missing]
    fixed = "\n".join(lines[:at] + added + lines[at:])
    return fixed, f"added missing import(s): {'; '.join(added)}"


def _import_insertion_line(tree: ast.Module) -> int:
    """Return the 0-based line after the module docstring and `from __future__` imports."""
    at = 0
    for node in tree.body:
        is_docstring = (
            node is tree.body[0]
            and isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        )
        is_future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        if not (is_docstring or is_future):
            break
        at = node.end_lineno or at
    return at


def _dotted(node: ast.expr) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def _case_match(module: Any, name: str) -> str | None:
    """Return the one public attribute of `module` that equals `name` ignoring case, else ignoring
    case and underscores; None when `name` exists or the match is not unique."""
    if hasattr(module, name):
        return None
    public = [a for a in dir(module) if not a.startswith("_")]
    for normalise in (str.lower, lambda text: text.lower().replace("_", "")):
        matches = [a for a in public if normalise(a) == normalise(name)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            return None
    return None


def _resolve_torch(parts: list[str], aliases: dict[str, str]) -> tuple[Any, str] | None:
    """Return (module, attribute) for a chain such as nn.Conv2D, when its root is a torch module."""
    root = aliases.get(parts[0])
    if root is None or len(parts) < 2:
        return None
    path = [root, *parts[1:-1]]
    try:
        module: Any = importlib.import_module(path[0])
        for attr in path[1:]:
            module = getattr(module, attr)
    except (ImportError, AttributeError):
        return None
    return module, parts[-1]


def _torch_aliases(tree: ast.Module) -> dict[str, str]:
    """Map local names to the torch paths they are bound to by the module's own imports."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != "torch":
                    continue
                # `import torch.nn as nn` binds nn to torch.nn; `import torch.nn` binds torch.
                aliases[alias.asname or "torch"] = alias.name if alias.asname else "torch"
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "torch":
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def fix_torch_name_case(source: str) -> tuple[str, str] | None:
    """Correct the case of a torch attribute that does not exist, e.g. nn.Conv2D -> nn.Conv2d."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    aliases = _torch_aliases(tree)
    if not aliases:
        return None

    edits: list[tuple[int, int, int, str, str]] = []  # line, start col, end col, old, new
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or node.end_lineno != node.lineno:
            continue
        parts = _dotted(node)
        resolved = _resolve_torch(parts, aliases) if parts else None
        if resolved is None:
            continue
        right = _case_match(*resolved)
        if right is not None:
            end = node.end_col_offset or 0
            edits.append((node.lineno, end - len(node.attr), end, node.attr, right))
    if not edits:
        return None
    return _apply_edits(source, edits)


def _apply_edits(source: str, edits: list[tuple[int, int, int, str, str]]) -> tuple[str, str] | None:
    # Column offsets from ast are UTF-8 byte offsets, so edit each line as bytes.
    lines = source.split("\n")
    done: list[str] = []
    for lineno, start, end, old, new in sorted(set(edits), key=lambda e: (e[0], -e[1])):
        raw = lines[lineno - 1].encode("utf-8")
        if raw[start:end].decode("utf-8", "replace") != old:
            continue
        lines[lineno - 1] = (raw[:start] + new.encode("utf-8") + raw[end:]).decode("utf-8")
        done.append(f"{old} -> {new} (line {lineno})")
    if not done:
        return None
    return "\n".join(lines), "corrected torch name(s): " + ", ".join(dict.fromkeys(done))


def hoist_hyperparameters(source: str) -> tuple[str, str] | None:
    """Copy `Net.supported_hyperparameters`, when it only returns string literals, to module level.

    The API reads the function from the module. Models written for looser harnesses, LEMUR's
    among them, sometimes define it as a method of Net instead. The copy returns the same
    names, so the model reads and declares the same hyperparameters as before.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    if HYPERPARAMETER_FUNCTION in _module_level_names(tree):
        return None
    names = _literal_hyperparameters(tree)
    if not names:
        return None

    literal = "{" + ", ".join(repr(name) for name in names) + "}"
    function = f"def {HYPERPARAMETER_FUNCTION}():\n    return {literal}\n"
    fixed = source.rstrip("\n") + "\n\n\n" + function
    return fixed, f"copied Net.{HYPERPARAMETER_FUNCTION}() to module level, returning {literal}"


def _module_level_names(tree: ast.Module) -> set[str]:
    """Names bound by the module's top-level statements."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        else:
            names.update(n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
    return names


def _literal_hyperparameters(tree: ast.Module) -> list[str] | None:
    """The strings that `Net.supported_hyperparameters` returns, when its body is one literal return."""
    net = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Net"), None)
    if net is None:
        return None
    method = next((n for n in net.body if isinstance(n, ast.FunctionDef) and n.name == HYPERPARAMETER_FUNCTION), None)
    if method is None:
        return None
    body = method.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    if len(body) != 1 or not isinstance(body[0], ast.Return):
        return None
    value = body[0].value
    if not isinstance(value, (ast.Set, ast.List, ast.Tuple)) or not value.elts:
        return None
    if not all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts):
        return None
    return list(dict.fromkeys(e.value for e in value.elts))


# Text-level repairs first, since the AST-level ones need a file that parses.
REPAIRS: tuple[tuple[str, RepairFn], ...] = (
    ("strip_stray_fences", strip_stray_fences),
    ("strip_surrounding_prose", strip_surrounding_prose),
    ("normalise_lookalikes", normalise_lookalikes),
    ("dedent_block", dedent_block),
    ("normalise_tabs", normalise_tabs),
    ("add_missing_imports", add_missing_imports),
    ("fix_torch_name_case", fix_torch_name_case),
    ("hoist_hyperparameters", hoist_hyperparameters),
)


# Passes over REPAIRS, because one repair can enable another (quotes fixed, then prose removed).
_MAX_PASSES = 3


def repair_source(source: str) -> tuple[str, list[RepairRecord]]:
    """Apply the repairs in order until none applies; return the result and what was applied."""
    records: list[RepairRecord] = []
    for _ in range(_MAX_PASSES):
        applied = False
        for name, repair in REPAIRS:
            outcome = repair(source)
            if outcome is None:
                continue
            fixed, reason = outcome
            if not fixed.endswith("\n"):
                fixed += "\n"
            if fixed == source:
                continue
            records.append(RepairRecord(name, reason, sha256_text(source), sha256_text(fixed)))
            source = fixed
            applied = True
        if not applied:
            break
    return source, records
