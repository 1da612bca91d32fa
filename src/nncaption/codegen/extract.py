"""Extraction: choose the one Python module in an LLM reply that is the candidate model file.

Replies of reasoning models come in many shapes. The thinking may sit inside `<think>` tags,
end with a lone `</think>`, or be cut off by the token limit. The answer may hold several
fenced blocks (a usage example before the model, a shell command after it), an unclosed fence
or no fence at all, and sometimes the code appears only inside the thinking. `extract_code`
finds every candidate block, scores it by how much of the Net API it defines, and returns the
best one together with how it was found. It changes nothing in the code except line endings,
because fixes are the job of `codegen.repair`.
"""

from __future__ import annotations

import ast
import re
from dataclasses import asdict, dataclass, field
from typing import Any

# Opening and closing think tags of reasoning models (DeepSeek-R1, Qwen3 and others).
_THINK_OPEN = re.compile(r"<(think|thinking)>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</(think|thinking)>", re.IGNORECASE)

# A fence line: up to any indentation, three or more backticks or tildes, an optional info string.
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\s]*)[^`]*$")

_PYTHON_TAGS = {"", "python", "python3", "py", "py3", "pytorch", "torch"}

# A line that starts Python code when a reply has no fences.
_CODE_START = re.compile(r"^(import \w|from [\w.]+ import |class \w|def \w|@\w|#!|\"\"\"|''')")

# Net API markers and their weights in the block score.
_API_MARKERS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"^class\s+Net\b", re.MULTILINE), 8),
    (re.compile(r"^def\s+supported_hyperparameters\s*\(", re.MULTILINE), 4),
    (re.compile(r"^\s+def\s+train_setup\s*\(", re.MULTILINE), 2),
    (re.compile(r"^\s+def\s+learn\s*\(", re.MULTILINE), 2),
    (re.compile(r"^\s+def\s+forward\s*\(", re.MULTILINE), 2),
    (re.compile(r"^\s*(import torch|from torch)", re.MULTILINE), 1),
)

# Bounds the work on long unfenced replies; each attempt parses the candidate text once.
_MAX_PARSE_ATTEMPTS = 400

# Characters that break `ast.parse` but that `codegen.repair` fixes; the score ignores them.
_LOOKALIKES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u00a0": " "})


@dataclass
class Block:
    """A stretch of reply text that may be the model file."""

    code: str
    method: str  # fenced | unclosed_fence | bare
    place: str  # answer | reasoning
    tag: str = ""  # the fence's info string, lower case
    start_line: int = 0  # 1-based line of the first code line in its part of the reply
    score: int = 0
    parses: bool = False


@dataclass
class Extraction:
    """The outcome of extraction: the chosen code, or the reason there is none."""

    code: str | None
    method: str  # how the code was found, e.g. "fenced:python in answer"; "" when no code
    reason: str = ""  # why there is no code; empty when code was found
    blocks: int = 0  # candidate blocks considered
    score: int = 0
    parses: bool = False  # the chosen code parses as Python (quote lookalikes ignored)
    truncated: bool = False  # the reply was cut by the token limit
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def split_thinking(text: str) -> tuple[str, str, str]:
    """Split a reply into (thinking, answer, shape), where shape names the think-tag layout.

    Shapes: `none` (no tags), `closed` (`<think>...</think>`), `lone_close` (only `</think>`,
    because the chat template already opened the tag), `unclosed` (`<think>` never closed).
    """
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:
        last = closes[-1]
        before, answer = text[: last.start()], text[last.end() :]
        opened = _THINK_OPEN.search(before)
        if opened:
            return before[opened.end() :], answer, "closed"
        return before, answer, "lone_close"

    opened = _THINK_OPEN.search(text)
    if opened:
        return text[opened.end() :], text[: opened.start()], "unclosed"
    return "", text, "none"


def extract_code(
    reply: str | None, reasoning: str | None = None, finish_reason: str | None = None
) -> Extraction:
    """Return the best Python module in `reply`, or a no-code reason.

    `reasoning` is thinking text the server returned in a separate field (`reasoning_content`
    or `reasoning`); `finish_reason` is the server's, where `length` means truncated.
    """
    notes: list[str] = []
    text = reply or ""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        notes.append("normalised Windows line endings")
    truncated = finish_reason == "length"

    thinking, answer, shape = split_thinking(text)
    if shape != "none":
        notes.append(f"think tags: {shape}")
    if reasoning:
        thinking = reasoning.replace("\r\n", "\n") + ("\n" + thinking if thinking else "")

    blocks = [b for b in find_blocks(answer, "answer") if b.tag in _PYTHON_TAGS]
    if not _has_module(blocks):
        blocks += [b for b in find_blocks(thinking, "reasoning") if b.tag in _PYTHON_TAGS]

    best = _choose(blocks)
    if best is None:
        return Extraction(
            code=None,
            method="",
            reason=_no_code_reason(text, thinking, answer, shape, truncated),
            blocks=len(blocks),
            truncated=truncated,
            notes=notes,
        )

    tag = f":{best.tag}" if best.tag else ""
    return Extraction(
        code=best.code,
        method=f"{best.method}{tag} in {best.place}",
        blocks=len(blocks),
        score=best.score,
        parses=best.parses,
        truncated=truncated,
        notes=notes,
    )


def find_blocks(text: str, place: str) -> list[Block]:
    """Return every fenced block of `text` (unclosed last fence included), else bare code."""
    lines = text.split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue

        fence = opening.group("fence")
        tag = opening.group("info").lower()
        end = _closing_fence(lines, i + 1, fence)
        body = lines[i + 1 : end if end is not None else len(lines)]
        method = "fenced" if end is not None else "unclosed_fence"
        blocks.append(_scored(Block(_dedent_to(body, opening.group("indent")), method, place, tag, i + 2)))
        i = (end if end is not None else len(lines)) + 1

    if blocks:
        return blocks
    bare = _bare_code(lines)
    return [_scored(Block(bare[0], "bare", place, "", bare[1]))] if bare else []


def _closing_fence(lines: list[str], start: int, fence: str) -> int | None:
    for j in range(start, len(lines)):
        stripped = lines[j].strip()
        if stripped and stripped[0] == fence[0] and set(stripped) == {fence[0]} and len(stripped) >= len(fence):
            return j
    return None


def _dedent_to(body: list[str], indent: str) -> str:
    """Remove the fence's own indentation (a fence inside a Markdown list item) from each line."""
    if indent and all(line.startswith(indent) or not line.strip() for line in body):
        body = [line[len(indent) :] for line in body]
    return "\n".join(body).strip("\n") + "\n"


def _bare_code(lines: list[str]) -> tuple[str, int] | None:
    """Return code that is not fenced: from the first code-like line to the end of the code.

    Trailing prose is cut only when the code before it parses and every line after it is
    unindented. Code with a syntax error in the middle is kept whole, so validation reports it.
    """
    start = next((i for i, line in enumerate(lines) if _CODE_START.match(line)), None)
    if start is None:
        return None
    tail = lines[start:]
    whole = "\n".join(tail).strip("\n") + "\n", start + 1

    last = len(tail)
    while last > 0 and _is_blank_or_prose(tail[last - 1]):
        last -= 1

    attempts = 0
    for end in range(last, 0, -1):
        # A module can only end before a line that is not indented (or at the very end).
        if not tail[end - 1].strip() or (end < len(tail) and tail[end][:1] in (" ", "\t")):
            continue
        attempts += 1
        if attempts > _MAX_PARSE_ATTEMPTS:
            break
        candidate = "\n".join(tail[:end]).translate(_LOOKALIKES)
        if not (_parses(candidate) and _defines_something(candidate)):
            continue
        if any(line[:1] in (" ", "\t") and line.strip() for line in tail[end:]):
            return whole
        return "\n".join(tail[:end]).strip("\n") + "\n", start + 1
    return whole


def _is_blank_or_prose(line: str) -> bool:
    """Return True for a blank line, or an unindented line that does not parse on its own (prose)."""
    if not line.strip():
        return True
    return line[:1] not in (" ", "\t") and not _parses(line.translate(_LOOKALIKES))


def _scored(block: Block) -> Block:
    normalised = block.code.translate(_LOOKALIKES)
    block.parses = _parses(normalised) or _parses(normalised.expandtabs(4))
    score = sum(weight for pattern, weight in _API_MARKERS if pattern.search(normalised))
    block.score = score + (3 if block.parses else 0)
    return block


def _choose(blocks: list[Block]) -> Block | None:
    """Pick the best block: Net API score first, then answer over reasoning, then later, then longer."""
    usable = [b for b in blocks if _defines_something(b.code)]
    if not usable:
        return None
    ranked = sorted(
        enumerate(usable),
        key=lambda item: (item[1].score, item[1].place == "answer", item[0], len(item[1].code)),
    )
    return ranked[-1][1]


def _has_module(blocks: list[Block]) -> bool:
    return any(b.score >= 8 for b in blocks)


def _defines_something(code: str) -> bool:
    return bool(re.search(r"^\s*(class |def |import |from \S+ import )", code, re.MULTILINE))


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def _no_code_reason(text: str, thinking: str, answer: str, shape: str, truncated: bool) -> str:
    if not text.strip() and not thinking.strip():
        return "reply is empty" + (" (truncated at the token limit)" if truncated else "")
    if shape == "unclosed" or (thinking.strip() and not answer.strip()):
        if truncated:
            return "reply truncated inside thinking (finish_reason=length) before any code"
        return "reply ends inside thinking without code"
    if truncated and not answer.strip():
        return "reply truncated at the token limit before any answer"

    other = sorted({b.tag for b in find_blocks(answer, "answer") if b.tag not in _PYTHON_TAGS})
    if other:
        return f"no Python block in the reply; found blocks tagged {', '.join(other)}"
    return "reply contains no Python code (no fenced block, no import, class or def)"
