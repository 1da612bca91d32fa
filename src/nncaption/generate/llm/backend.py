"""The LLM backend interface: one chat request in, one reply out, with what it cost.

A backend sends one list of chat messages and returns an `LLMReply`. It retries transient
failures itself and raises `NncaptionError` when the server stays unreachable. Token-limit
handling, extraction and recording live above it, in `nncaption.generate.llm.conversation`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from nncaption.codegen.extract import split_thinking
from nncaption.config import GeneratorConfig

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": text}


@dataclass(frozen=True)
class RequestKey:
    """Position of a request in a run, the key by which the replay backend finds a recorded reply."""

    candidate: int
    call: int  # 0-based number of the request within the candidate, follow-ups included


@dataclass
class LLMReply:
    """One reply and how it was obtained."""

    content: str  # the reply text as the server sent it, think tags included
    reasoning: str = ""  # thinking, from a separate field or from inline think tags
    reasoning_source: str = ""  # reasoning_content | reasoning | think_tags | "" (none)
    finish_reason: str | None = None  # stop | length | ... as the server reports it
    tokens_in: int | None = None
    tokens_out: int | None = None
    latency_s: float = 0.0
    attempt: int = 1  # 1-based attempt that produced this reply
    errors: list[str] = field(default_factory=list)  # failures of the attempts before it
    model: str = ""


class LLMBackend(Protocol):
    kind: str
    model: str

    def complete(self, messages: list[Message], *, max_tokens: int, key: RequestKey) -> LLMReply:
        """Send one chat request and return the reply; raise NncaptionError when it cannot."""
        ...


BackendFactory = Callable[[GeneratorConfig], LLMBackend]
BACKENDS: dict[str, BackendFactory] = {}


def register_backend(kind: str) -> Callable[[BackendFactory], BackendFactory]:
    def decorate(factory: BackendFactory) -> BackendFactory:
        BACKENDS[kind] = factory
        return factory

    return decorate


def reasoning_from_fields(content: str, fields: dict[str, object]) -> tuple[str, str]:
    """Return (reasoning, source): a `reasoning_content` or `reasoning` field, else inline think tags."""
    for name in ("reasoning_content", "reasoning"):
        value = fields.get(name)
        if isinstance(value, str) and value.strip():
            return value, name
    thinking, _, shape = split_thinking(content)
    if shape != "none" and thinking.strip():
        return thinking.strip("\n"), "think_tags"
    return "", ""
