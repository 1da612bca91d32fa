"""The `openai` backend: the official openai client against any OpenAI-compatible server.

vLLM, Ollama, llama.cpp's server and SGLang all serve `/v1/chat/completions`. The client's own
retries are switched off so that this module decides what is retried (rate limits, server
errors, timeouts, dropped connections), how long it waits, and what is recorded.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections import Counter
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
from nncaption.generate.llm.cancel import (
    CANCELLED,
    raise_if_cancelled,
    sleep_cancellable,
    wait_cancellable,
    watch_interrupts,
)

logger = logging.getLogger(__name__)

# Upper bound of one wait between attempts, in seconds, even when Retry-After requests more.
_MAX_WAIT_S = 120.0
# Local servers (vLLM, Ollama, llama.cpp) accept any key; the client insists on a non-empty one.
_PLACEHOLDER_KEY = "unused"
# Characters of an unusable response body quoted in an error.
_BODY_QUOTE = 200


class NotACompletion(Exception):
    """An HTTP 200 response whose body is not a chat completion; retried like a server error."""


class OpenAIBackend:
    kind = "openai"

    def __init__(self, config: GeneratorConfig) -> None:
        try:
            import openai
        except ImportError as exc:
            raise ConfigError(
                "generator.kind=openai needs the openai package; install it with `pip install 'nncaption[llm]'`"
            ) from exc
        if config.concurrency < 1 or config.retries < 0:
            raise ConfigError(
                f"generator.concurrency must be >= 1 and generator.retries >= 0, "
                f"got {config.concurrency} and {config.retries}"
            )

        self._openai = openai
        self._config = config
        self.model = config.model
        self._client = openai.OpenAI(
            base_url=config.base_url,
            api_key=os.environ.get(config.api_key_env) or _PLACEHOLDER_KEY,
            timeout=config.request_timeout_s,
            max_retries=0,
        )
        self._slots = threading.BoundedSemaphore(config.concurrency)
        # A new backend starts a new run: forget an interrupt of an earlier one in this process.
        CANCELLED.clear()
        watch_interrupts()

    def complete(self, messages: list[Message], *, max_tokens: int, key: RequestKey) -> LLMReply:
        """Send one request, retrying transient failures with exponential backoff."""
        errors: list[str] = []
        attempts = self._config.retries + 1
        for attempt in range(1, attempts + 1):
            raise_if_cancelled()
            try:
                with self._slots:
                    started = time.monotonic()
                    raw = wait_cancellable(lambda: self._send(messages, max_tokens), f"llm-request-{key.candidate}")
                    latency = time.monotonic() - started
                return self._to_reply(parse_completion(raw), latency, attempt, errors)
            except self._openai.APIStatusError as exc:
                if exc.status_code != 429 and exc.status_code < 500:
                    raise NncaptionError(self._status_message(exc)) from exc
                error, wait = self._status_error_and_wait(exc, attempt)
            except self._openai.APIConnectionError as exc:  # APITimeoutError included
                kind = "timed out" if isinstance(exc, self._openai.APITimeoutError) else "connection failed"
                error = f"{kind}: {_short(str(exc))}"
                wait = self._backoff(attempt)
            except NotACompletion as exc:
                error = f"HTTP 200 but {exc}"
                wait = self._backoff(attempt)

            errors.append(error)
            if attempt == attempts:
                break
            logger.warning(
                "LLM request for candidate %d call %d failed (%s); retry %d of %d in %.1f s",
                key.candidate, key.call, error, attempt, attempts - 1, wait,
            )
            sleep_cancellable(wait)
        raise NncaptionError(self._failure_message(attempts, key, errors))

    def _send(self, messages: list[Message], max_tokens: int) -> Any:
        """Send one HTTP request and return the raw response, so that this module parses the body itself."""
        return self._client.chat.completions.with_raw_response.create(
            model=self.model,
            messages=messages,  # type: ignore[arg-type]
            temperature=self._config.temperature,
            top_p=self._config.top_p,
            max_tokens=max_tokens,
        )

    def _failure_message(self, attempts: int, key: RequestKey, errors: list[str]) -> str:
        counts = Counter(errors)
        summary = "; ".join(f"{e} ({n} times)" if n > 1 else e for e, n in counts.items())
        return (
            f"LLM server {self._config.base_url} failed {attempts} attempt(s) for candidate {key.candidate}: "
            f"{summary}. Check that generator.base_url names a running OpenAI-compatible server that serves "
            f"model {self.model!r} (generator.model); a resumed run may change generator.base_url, "
            "generator.retries, generator.backoff_s and generator.request_timeout_s"
        )

    def _backoff(self, attempt: int) -> float:
        return min(self._config.backoff_s * 2 ** (attempt - 1), _MAX_WAIT_S)

    def _status_error_and_wait(self, exc: Any, attempt: int) -> tuple[str, float]:
        """Describe an HTTP 429 or 5xx and return the wait before the retry.

        The wait is the server's Retry-After up to `_MAX_WAIT_S`, else the exponential backoff.
        A capped Retry-After is named in the error, so the retry log and the final message show it.
        """
        error = f"HTTP {exc.status_code}: {_error_text(exc)}"
        requested = _retry_after(exc)
        if requested is None:
            return error, self._backoff(attempt)
        if requested > _MAX_WAIT_S:
            error += f" (Retry-After requested {requested:g} s; waits are capped at {_MAX_WAIT_S:g} s)"
        return error, min(requested, _MAX_WAIT_S)

    def _status_message(self, exc: Any) -> str:
        hint = {
            401: f"set the API key in the environment variable {self._config.api_key_env}",
            403: f"check the API key in {self._config.api_key_env}",
            404: f"check generator.base_url and that the server serves model {self.model!r} (generator.model)",
        }.get(exc.status_code, "check the request settings (generator.model, generator.max_tokens)")
        if exc.status_code not in (401, 403):
            # A resume rejects another model or max_tokens, because they change what the replies mean.
            hint += "; a changed generator.model or generator.max_tokens needs a new --run-dir"
        return (
            f"LLM server {self._config.base_url} rejected the request with HTTP {exc.status_code}: "
            f"{_error_text(exc)}; {hint}"
        )

    def _to_reply(self, body: dict[str, Any], latency: float, attempt: int, errors: list[str]) -> LLMReply:
        choices = body["choices"]
        choice = choices[0] if choices else {}
        message = choice.get("message") or {}
        content = message.get("content") or ""
        reasoning, source = reasoning_from_fields(content, message)
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        finish = choice.get("finish_reason")
        return LLMReply(
            content=content,
            reasoning=reasoning,
            reasoning_source=source,
            finish_reason=finish if isinstance(finish, str) else None,
            tokens_in=_count(usage.get("prompt_tokens")),
            tokens_out=_count(usage.get("completion_tokens")),
            latency_s=round(latency, 3),
            attempt=attempt,
            errors=list(errors),
            model=body.get("model") if isinstance(body.get("model"), str) and body.get("model") else self.model,
        )


def parse_completion(raw: Any) -> dict[str, Any]:
    """Decode a 200 response as a chat completion; raise NotACompletion on anything else."""
    text = raw.text
    kind = raw.headers.get("content-type", "no content-type")
    try:
        body = json.loads(text)
    except ValueError:
        raise NotACompletion(f"the body is not JSON ({kind}, {len(text)} characters): {_short(text, _BODY_QUOTE)!r}") from None
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
        raise NotACompletion(f"the JSON body has no 'choices' list: {_short(text, _BODY_QUOTE)!r}")
    if not choices:
        # Retried like a missing list: an empty reply would otherwise be stored as no_code permanently.
        raise NotACompletion(f"the JSON body has an empty 'choices' list: {_short(text, _BODY_QUOTE)!r}")
    message = choices[0].get("message")
    if not isinstance(message, dict) or not isinstance(message.get("content"), (str, type(None))):
        raise NotACompletion(f"the first choice has no message with text content: {_short(text, _BODY_QUOTE)!r}")
    return body


def _count(value: Any) -> int | None:
    """Return a token count as an int, or None when the server sent none or a value of another type."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _error_text(exc: Any) -> str:
    """Return the server's own error message, without the client's `Error code: N - ` prefix."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        if isinstance(inner.get("message"), str) and inner["message"].strip():
            return _short(inner["message"])
    text = str(getattr(exc, "message", exc))
    prefix = f"Error code: {getattr(exc, 'status_code', '')}"
    text = text.removeprefix(prefix).removeprefix(" - ") if text.startswith(prefix) else text
    return _short(text) if text.strip() else "no error message in the response body"


def _retry_after(exc: Any) -> float | None:
    """Return the server's Retry-After in seconds, uncapped, when it sent one in seconds."""
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return None  # missing, an HTTP date, nan, inf or negative: the normal backoff applies
    return seconds


def _short(text: str, limit: int = 300) -> str:
    """Collapse `text` to one line of at most `limit` characters, without a final period, because callers add their own."""
    text = " ".join(str(text).split()).rstrip(".")
    return text if len(text) <= limit else text[: limit - 3] + "..."


@register_backend("openai")
def make_openai_backend(config: GeneratorConfig) -> OpenAIBackend:
    return OpenAIBackend(config)
