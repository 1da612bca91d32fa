"""The `openai` backend: the official openai client against any OpenAI-compatible server.

vLLM, Ollama, llama.cpp's server and SGLang all serve `/v1/chat/completions`. The client's own
retries are switched off so that this module decides what is retried (rate limits, server
errors, timeouts, dropped connections), how long it waits, and what is recorded.
"""

from __future__ import annotations

import logging
import os
import threading
import time
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

# Upper bound of one wait between attempts, in seconds, even when Retry-After requests more.
_MAX_WAIT_S = 120.0
# Local servers (vLLM, Ollama, llama.cpp) accept any key; the client insists on a non-empty one.
_PLACEHOLDER_KEY = "unused"


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

    def complete(self, messages: list[Message], *, max_tokens: int, key: RequestKey) -> LLMReply:
        """Send one request, retrying transient failures with exponential backoff."""
        errors: list[str] = []
        attempts = self._config.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                with self._slots:
                    started = time.monotonic()
                    response = self._client.chat.completions.create(
                        model=self.model,
                        messages=messages,  # type: ignore[arg-type]
                        temperature=self._config.temperature,
                        top_p=self._config.top_p,
                        max_tokens=max_tokens,
                    )
                    latency = time.monotonic() - started
                return self._to_reply(response, latency, attempt, errors)
            except self._openai.APIStatusError as exc:
                if exc.status_code != 429 and exc.status_code < 500:
                    raise NncaptionError(self._status_message(exc)) from exc
                error = f"HTTP {exc.status_code}: {_short(exc.message)}"
                wait = _retry_after(exc) or self._backoff(attempt)
            except self._openai.APIConnectionError as exc:  # APITimeoutError included
                kind = "timed out" if isinstance(exc, self._openai.APITimeoutError) else "connection failed"
                error = f"{kind}: {_short(str(exc))}"
                wait = self._backoff(attempt)

            errors.append(error)
            if attempt == attempts:
                break
            logger.warning(
                "LLM request for candidate %d call %d failed (%s); retry %d of %d in %.1f s",
                key.candidate, key.call, error, attempt, attempts - 1, wait,
            )
            time.sleep(wait)

        raise NncaptionError(
            f"LLM server {self._config.base_url} failed {attempts} attempt(s) for candidate "
            f"{key.candidate}: {'; '.join(errors)}. Check that the server is running and serves "
            f"model {self.model!r}, or raise generator.retries / generator.request_timeout_s."
        )

    def _backoff(self, attempt: int) -> float:
        return min(self._config.backoff_s * 2 ** (attempt - 1), _MAX_WAIT_S)

    def _status_message(self, exc: Any) -> str:
        hint = {
            401: f"set the API key in the environment variable {self._config.api_key_env}",
            403: f"check the API key in {self._config.api_key_env}",
            404: f"check generator.base_url and that the server serves model {self.model!r} (generator.model)",
        }.get(exc.status_code, "check the request settings (generator.model, generator.max_tokens)")
        return (
            f"LLM server {self._config.base_url} rejected the request with HTTP {exc.status_code}: "
            f"{_short(exc.message)}; {hint}"
        )

    def _to_reply(self, response: Any, latency: float, attempt: int, errors: list[str]) -> LLMReply:
        choice = response.choices[0] if response.choices else None
        message = choice.message if choice is not None else None
        content = (message.content if message is not None else None) or ""
        extra = dict(getattr(message, "model_extra", None) or {}) if message is not None else {}
        reasoning, source = reasoning_from_fields(content, extra)
        usage = response.usage
        return LLMReply(
            content=content,
            reasoning=reasoning,
            reasoning_source=source,
            finish_reason=choice.finish_reason if choice is not None else None,
            tokens_in=getattr(usage, "prompt_tokens", None),
            tokens_out=getattr(usage, "completion_tokens", None),
            latency_s=round(latency, 3),
            attempt=attempt,
            errors=list(errors),
            model=getattr(response, "model", "") or self.model,
        )


def _retry_after(exc: Any) -> float | None:
    """Return the server's Retry-After in seconds, capped, when it sent one in seconds."""
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return min(max(float(value), 0.0), _MAX_WAIT_S) if value is not None else None
    except ValueError:
        return None


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@register_backend("openai")
def make_openai_backend(config: GeneratorConfig) -> OpenAIBackend:
    return OpenAIBackend(config)
