"""The `replay` backend: replies recorded earlier, so an experiment re-runs without an LLM.

The file is JSONL, one request per line. A line needs `reply` (or `content`); it may carry
`candidate` and `call` (the request key), `reasoning`, `finish_reason`, `tokens_in`,
`tokens_out`, `latency_s` and `prompt`. The `llm_calls` that the LLM generator records, and
the lines it writes to `generator.record_file`, have exactly this shape. A line without
`candidate` belongs to the candidate after the previous line's; a line without `call` follows
the previous call of its candidate.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from nncaption.config import GeneratorConfig
from nncaption.errors import ConfigError, NncaptionError
from nncaption.generate.llm.backend import (
    LLMReply,
    Message,
    RequestKey,
    reasoning_from_fields,
    register_backend,
)

logger = logging.getLogger(__name__)


class ReplayMissingError(NncaptionError):
    """The replay file has no reply for a request."""


def load_replay(path: Path) -> dict[tuple[int, int], dict[str, Any]]:
    """Read a replay JSONL file into {(candidate, call): record}."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read replay file {path} (generator.replay_file): {exc.strerror}") from exc

    records: dict[tuple[int, int], dict[str, Any]] = {}
    next_call: dict[int, int] = {}
    candidate = -1
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"replay file {path} line {number} is not valid JSON: {exc.msg}") from exc
        if not isinstance(record, dict) or not isinstance(record.get("reply", record.get("content")), str):
            raise ConfigError(f"replay file {path} line {number} must be an object with a string 'reply'")

        candidate = int(record.get("candidate", candidate + 1))
        call = int(record.get("call", next_call.get(candidate, 0)))
        next_call[candidate] = call + 1
        records[(candidate, call)] = record
    return records


class ReplayBackend:
    kind = "replay"

    def __init__(self, config: GeneratorConfig) -> None:
        if not config.replay_file:
            raise ConfigError("generator.kind=replay needs generator.replay_file=PATH to a JSONL file of replies")
        self._path = Path(config.replay_file).expanduser()
        self._records = load_replay(self._path)
        self.model = config.model
        logger.info("replaying %d recorded replies from %s", len(self._records), self._path)

    def complete(self, messages: list[Message], *, max_tokens: int, key: RequestKey) -> LLMReply:
        """Return the recorded reply for `key`; raise ReplayMissingError when there is none."""
        record = self._records.get((key.candidate, key.call))
        if record is None:
            known = sorted({candidate for candidate, _ in self._records})
            raise ReplayMissingError(
                f"replay file {self._path} has no reply for candidate {key.candidate} call {key.call} "
                f"(it covers candidates {known[0] if known else '-'}..{known[-1] if known else '-'}); "
                "lower search.candidates or record more replies"
            )

        content = record.get("reply", record.get("content", ""))
        fields = {"reasoning": record.get("reasoning")} if record.get("reasoning") else {}
        reasoning, source = reasoning_from_fields(content, fields)
        recorded_prompt = record.get("prompt")
        if recorded_prompt is not None and recorded_prompt != messages:
            logger.debug("replayed reply for candidate %d call %d was recorded for another prompt", key.candidate, key.call)
        return LLMReply(
            content=content,
            reasoning=reasoning,
            reasoning_source=record.get("reasoning_source") or source,
            finish_reason=record.get("finish_reason", "stop"),
            tokens_in=record.get("tokens_in"),
            tokens_out=record.get("tokens_out"),
            latency_s=0.0,
            model=record.get("model") or self.model,
        )


@register_backend("replay")
def make_replay_backend(config: GeneratorConfig) -> ReplayBackend:
    return ReplayBackend(config)
