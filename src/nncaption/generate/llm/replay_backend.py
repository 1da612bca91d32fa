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


# Optional fields of a replay line and the JSON types they may hold (None: the field may be null).
_TEXT_FIELDS = ("reasoning", "reasoning_source", "finish_reason", "model")
_COUNT_FIELDS = ("tokens_in", "tokens_out")


def _field_error(record: dict[str, Any]) -> str | None:
    """Describe the first field of a replay line with the wrong type; None when all are usable."""
    if not isinstance(record.get("reply", record.get("content")), str):
        return "must have a string 'reply'"
    for name in ("candidate", "call"):
        value = record.get(name, 0)
        if not _is_count(value):
            return f"field {name!r} must be a non-negative integer, got {json.dumps(value)}"
    for name in _COUNT_FIELDS:
        value = record.get(name)
        if value is not None and not _is_count(value):
            return f"field {name!r} must be a non-negative integer or null, got {json.dumps(value)}"
    for name in _TEXT_FIELDS:
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            return f"field {name!r} must be a string or null, got {json.dumps(value)}"
    latency = record.get("latency_s")
    if latency is not None and (isinstance(latency, bool) or not isinstance(latency, (int, float))):
        return f"field 'latency_s' must be a number or null, got {json.dumps(latency)}"
    if record.get("prompt") is not None and not isinstance(record["prompt"], list):
        return "field 'prompt' must be a list of chat messages or null"
    return None


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read replay file {path} (generator.replay_file): {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"replay file {path} (generator.replay_file) is not UTF-8 text: byte {exc.start} is "
            f"{exc.object[exc.start:exc.start + 1]!r}; give a JSONL file, one JSON object per line"
        ) from exc


def load_replay(path: Path) -> dict[tuple[int, int], dict[str, Any]]:
    """Read a replay JSONL file into {(candidate, call): record}; ConfigError names a bad line."""
    records: dict[tuple[int, int], dict[str, Any]] = {}
    next_call: dict[int, int] = {}
    candidate = -1
    for number, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"replay file {path} line {number} is not valid JSON: {exc.msg}") from exc
        problem = _field_error(record) if isinstance(record, dict) else "must be a JSON object"
        if problem is not None:
            raise ConfigError(f"replay file {path} line {number} {problem}; fix or remove that line")

        candidate = record.get("candidate", candidate + 1)
        call = record.get("call", next_call.get(candidate, 0))
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
