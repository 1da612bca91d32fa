"""One exchange with an LLM: a request, its token-limit follow-ups, and the record of each call.

A reply stopped by the token limit (`finish_reason == "length"`) is handled per
`generator.on_length`. With `continue`, the model receives its partial answer and a request
to go on from where it stopped, or, when it stopped while thinking, a request to write the
code now. With `retry`, the request is sent again with a larger `max_tokens`. With `accept`,
the cut reply is kept. Every request becomes one call record.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nncaption.codegen.extract import split_thinking
from nncaption.config import GeneratorConfig
from nncaption.errors import ConfigError
from nncaption.generate.llm.backend import LLMBackend, LLMReply, Message, RequestKey

logger = logging.getLogger(__name__)

ON_LENGTH_CHOICES = ("continue", "retry", "accept")
# Follow-up requests after a reply cut by the token limit, per exchange.
MAX_LENGTH_FOLLOWUPS = 2

CONTINUE_ANSWER = (
    "Your reply was cut off by the token limit. Continue exactly where it stopped, without "
    "repeating anything and without restarting the code block."
)
FINISH_AFTER_THINKING = (
    "Your reasoning was cut off by the token limit before you wrote any code. Stop reasoning now "
    "and write the complete model file in one ```python code block."
)


@dataclass
class Exchange:
    """The text to extract code from, and every call it took."""

    reply: str
    reasoning: str  # thinking from separate fields only; inline think tags stay in `reply`
    finish_reason: str | None
    calls: list[dict[str, Any]] = field(default_factory=list)


class CallRecorder:
    """Appends every call record to `generator.record_file` (JSONL), usable as a replay file."""

    def __init__(self, path: str | None) -> None:
        self._path = Path(path).expanduser() if path else None
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        if self._path is None:
            return
        with self._lock, self._path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def check_on_length(config: GeneratorConfig) -> None:
    if config.on_length not in ON_LENGTH_CHOICES:
        raise ConfigError(
            f"generator.on_length must be one of {', '.join(ON_LENGTH_CHOICES)}, got {config.on_length!r}"
        )


def call_record(
    messages: list[Message], reply: LLMReply, key: RequestKey, purpose: str, max_tokens: int, backend: str
) -> dict[str, Any]:
    return {
        "candidate": key.candidate,
        "call": key.call,
        "purpose": purpose,
        "backend": backend,
        "model": reply.model,
        "prompt": messages,
        "reply": reply.content,
        "reasoning": reply.reasoning,
        "reasoning_source": reply.reasoning_source,
        "tokens_in": reply.tokens_in,
        "tokens_out": reply.tokens_out,
        "max_tokens": max_tokens,
        "latency_s": reply.latency_s,
        "finish_reason": reply.finish_reason,
        "attempt": reply.attempt,
        "errors": reply.errors,
    }


def _separate_reasoning(reply: LLMReply) -> str:
    return reply.reasoning if reply.reasoning_source in ("reasoning_content", "reasoning") else ""


def _cut_while_thinking(reply: LLMReply) -> bool:
    _, answer, shape = split_thinking(reply.content)
    return shape == "unclosed" or not answer.strip()


def converse(
    backend: LLMBackend,
    config: GeneratorConfig,
    messages: list[Message],
    *,
    candidate: int,
    first_call: int,
    purpose: str,
    recorder: CallRecorder | None = None,
) -> Exchange:
    """Send `messages`, follow up on token-limit cuts per config, and record every call."""
    calls: list[dict[str, Any]] = []

    def send(request: list[Message], max_tokens: int, call_purpose: str) -> LLMReply:
        key = RequestKey(candidate, first_call + len(calls))
        reply = backend.complete(request, max_tokens=max_tokens, key=key)
        record = call_record(request, reply, key, call_purpose, max_tokens, backend.kind)
        logger.debug(
            "candidate %d call %d (%s): %s tokens in, %s out, finish %s, %.1f s",
            key.candidate, key.call, call_purpose, reply.tokens_in, reply.tokens_out, reply.finish_reason, reply.latency_s,
        )
        calls.append(record)
        if recorder is not None:
            recorder.write(record)
        return reply

    max_tokens = config.max_tokens
    reply = send(messages, max_tokens, purpose)
    text, reasoning = reply.content, _separate_reasoning(reply)

    for _ in range(MAX_LENGTH_FOLLOWUPS):
        if reply.finish_reason != "length" or config.on_length == "accept":
            break
        logger.info("candidate %d: reply cut at %d tokens, follow-up by %s", candidate, max_tokens, config.on_length)

        if config.on_length == "retry":
            max_tokens = int(max_tokens * config.length_retry_factor)
            reply = send(messages, max_tokens, f"{purpose}:retry_length")
            text, reasoning = reply.content, _separate_reasoning(reply)
        elif _cut_while_thinking(reply):
            follow = [*messages, {"role": "user", "content": FINISH_AFTER_THINKING}]
            previous = reasoning or reply.content
            reply = send(follow, max_tokens, f"{purpose}:finish_after_thinking")
            text = reply.content
            reasoning = "\n".join(part for part in (previous, _separate_reasoning(reply)) if part)
        else:
            follow = [*messages, {"role": "assistant", "content": text}, {"role": "user", "content": CONTINUE_ANSWER}]
            reply = send(follow, max_tokens, f"{purpose}:continue")
            _, answer, _ = split_thinking(reply.content)
            text = text + answer

    return Exchange(text, reasoning, reply.finish_reason, calls)
