"""The openai backend and the token-limit follow-ups, against the scripted server on 127.0.0.1."""

import threading
import time
from pathlib import Path

import pytest

from nncaption.codegen.extract import extract_code
from nncaption.config import GeneratorConfig
from nncaption.errors import ConfigError, NncaptionError
from nncaption.generate.llm.backend import RequestKey
from nncaption.generate.llm.conversation import CONTINUE_ANSWER, FINISH_AFTER_THINKING, converse
from nncaption.generate.llm.openai_backend import OpenAIBackend

MODEL = (Path(__file__).parent / "fixtures" / "models" / "lstm_captioner.py").read_text(encoding="utf-8")
MESSAGES = [{"role": "user", "content": "write a captioning model"}]
KEY = RequestKey(candidate=0, call=0)


def _backend(mock_llm, **overrides) -> OpenAIBackend:
    settings = {"kind": "openai", "base_url": mock_llm.url, "model": "mock-r1", "backoff_s": 0.01,
                "request_timeout_s": 5.0, "retries": 2}
    settings.update(overrides)
    return OpenAIBackend(GeneratorConfig(**settings))


def test_normal_reply(mock_llm):
    mock_llm.script = [{"content": f"```python\n{MODEL}```\n"}]
    reply = _backend(mock_llm, temperature=0.3, top_p=0.9).complete(MESSAGES, max_tokens=123, key=KEY)

    assert reply.content.startswith("```python")
    assert reply.finish_reason == "stop"
    assert reply.tokens_in == 4
    assert reply.tokens_out > 10
    assert reply.attempt == 1
    assert reply.errors == []
    assert reply.reasoning == ""
    sent = mock_llm.requests[0]
    assert sent["model"] == "mock-r1"
    assert sent["max_tokens"] == 123
    assert sent["temperature"] == 0.3
    assert sent["top_p"] == 0.9
    assert sent["messages"] == MESSAGES


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_field(mock_llm, field):
    mock_llm.script = [{"content": "```python\nimport torch\n```", field: "thinking about encoders"}]
    reply = _backend(mock_llm).complete(MESSAGES, max_tokens=50, key=KEY)
    assert reply.reasoning == "thinking about encoders"
    assert reply.reasoning_source == field


def test_inline_think_tags(mock_llm):
    mock_llm.script = [{"content": "<think>\nweigh LSTM against GRU\n</think>\nanswer"}]
    reply = _backend(mock_llm).complete(MESSAGES, max_tokens=50, key=KEY)
    assert reply.reasoning == "weigh LSTM against GRU"
    assert reply.reasoning_source == "think_tags"
    assert reply.content.endswith("answer")


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_status_retried(mock_llm, status):
    mock_llm.script = [{"status": status, "headers": {"retry-after": "0"}}, {"content": "fine"}]
    reply = _backend(mock_llm).complete(MESSAGES, max_tokens=50, key=KEY)
    assert reply.content == "fine"
    assert reply.attempt == 2
    assert len(reply.errors) == 1
    assert f"HTTP {status}" in reply.errors[0]
    assert len(mock_llm.requests) == 2


def test_slow_reply_times_out_then_retries(mock_llm):
    mock_llm.script = [{"delay": 3.0, "content": "late"}, {"content": "on time"}]
    reply = _backend(mock_llm, request_timeout_s=1.0).complete(MESSAGES, max_tokens=50, key=KEY)
    assert reply.content == "on time"
    assert reply.attempt == 2
    assert reply.errors[0].startswith("timed out")


def test_dropped_connection_retried(mock_llm):
    mock_llm.script = [{"drop": True}, {"content": "fine"}]
    reply = _backend(mock_llm).complete(MESSAGES, max_tokens=50, key=KEY)
    assert reply.content == "fine"
    assert reply.attempt == 2
    assert "connection failed" in reply.errors[0] or "timed out" in reply.errors[0]


def test_persistent_failure_raises_with_all_errors(mock_llm):
    mock_llm.script = [{"status": 500}]
    with pytest.raises(NncaptionError, match=r"failed 3 attempt\(s\)") as caught:
        _backend(mock_llm, retries=2).complete(MESSAGES, max_tokens=50, key=KEY)
    assert len(mock_llm.requests) == 3
    message = str(caught.value)
    # The same failure is named once, with its count, and the text has no doubled period.
    assert message.count("HTTP 500: scripted 500") == 1
    assert "(3 times)" in message
    assert "Error code" not in message
    assert ".." not in message


def test_client_error_not_retried(mock_llm):
    mock_llm.script = [{"status": 404}]
    with pytest.raises(NncaptionError, match="HTTP 404.*generator.model") as caught:
        _backend(mock_llm).complete(MESSAGES, max_tokens=50, key=KEY)
    assert len(mock_llm.requests) == 1
    # Another model cannot be resumed into the same run, so the message says so.
    assert "needs a new --run-dir" in str(caught.value)


def test_empty_reply_is_no_code(mock_llm):
    mock_llm.script = [{"content": ""}]
    reply = _backend(mock_llm).complete(MESSAGES, max_tokens=50, key=KEY)
    assert reply.content == ""
    assert extract_code(reply.content, reply.reasoning, reply.finish_reason).reason == "reply is empty"


def test_null_content_is_empty(mock_llm):
    mock_llm.script = [{"content": None, "reasoning_content": "only thoughts", "finish_reason": "length"}]
    reply = _backend(mock_llm).complete(MESSAGES, max_tokens=50, key=KEY)
    assert reply.content == ""
    assert reply.finish_reason == "length"
    result = extract_code(reply.content, reply.reasoning, reply.finish_reason)
    assert "truncated inside thinking" in result.reason


def test_api_key_from_named_variable(mock_llm, monkeypatch):
    monkeypatch.setenv("TEST_NNCAPTION_KEY", "secret-123")
    mock_llm.script = [{"content": "ok"}]
    _backend(mock_llm, api_key_env="TEST_NNCAPTION_KEY").complete(MESSAGES, max_tokens=5, key=KEY)
    assert mock_llm.headers[0]["authorization"] == "Bearer secret-123"


def test_concurrency_limit(mock_llm):
    mock_llm.script = [{"delay": 0.3, "content": "ok"}]
    backend = _backend(mock_llm, concurrency=1)
    threads = [
        threading.Thread(target=backend.complete, args=(MESSAGES,), kwargs={"max_tokens": 5, "key": KEY})
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(mock_llm.requests) == 3
    assert mock_llm.max_in_flight == 1


def test_invalid_concurrency_rejected(mock_llm):
    with pytest.raises(ConfigError, match="concurrency"):
        _backend(mock_llm, concurrency=0)


def _converse(mock_llm, **overrides):
    config = GeneratorConfig(kind="openai", base_url=mock_llm.url, backoff_s=0.01, max_tokens=100, **overrides)
    return converse(OpenAIBackend(config), config, MESSAGES, candidate=3, first_call=0, purpose="propose")


def test_length_cut_in_answer_continues(mock_llm):
    head, tail = MODEL[:400], MODEL[400:]
    mock_llm.script = [
        {"content": f"</think>\n```python\n{head}", "finish_reason": "length"},
        {"content": f"{tail}```\n"},
    ]
    exchange = _converse(mock_llm, on_length="continue")

    assert [c["purpose"] for c in exchange.calls] == ["propose", "propose:continue"]
    assert [c["call"] for c in exchange.calls] == [0, 1]
    assert exchange.calls[0]["finish_reason"] == "length"
    follow = mock_llm.requests[1]["messages"]
    assert follow[-2]["role"] == "assistant"
    assert follow[-1]["content"] == CONTINUE_ANSWER
    assert extract_code(exchange.reply, exchange.reasoning, exchange.finish_reason).code == MODEL


def test_length_cut_in_thinking_asks_for_code(mock_llm):
    mock_llm.script = [
        {"content": "", "reasoning_content": "long thoughts", "finish_reason": "length"},
        {"content": f"```python\n{MODEL}```\n"},
    ]
    exchange = _converse(mock_llm, on_length="continue")

    assert [c["purpose"] for c in exchange.calls] == ["propose", "propose:finish_after_thinking"]
    assert mock_llm.requests[1]["messages"][-1]["content"] == FINISH_AFTER_THINKING
    assert exchange.reasoning == "long thoughts"
    assert extract_code(exchange.reply, exchange.reasoning, exchange.finish_reason).code == MODEL


def test_length_retry_raises_budget(mock_llm):
    mock_llm.script = [{"content": "<think>cut", "finish_reason": "length"}, {"content": f"```python\n{MODEL}```"}]
    exchange = _converse(mock_llm, on_length="retry", length_retry_factor=3.0)

    assert [r["max_tokens"] for r in mock_llm.requests] == [100, 300]
    assert mock_llm.requests[1]["messages"] == MESSAGES
    assert [c["max_tokens"] for c in exchange.calls] == [100, 300]
    assert exchange.finish_reason == "stop"


def test_length_accept_keeps_cut_reply(mock_llm):
    mock_llm.script = [{"content": "<think>cut", "finish_reason": "length"}]
    exchange = _converse(mock_llm, on_length="accept")
    assert len(exchange.calls) == 1
    assert exchange.finish_reason == "length"


def test_length_followups_bounded(mock_llm):
    mock_llm.script = [{"content": "<think>still thinking", "finish_reason": "length"}]
    exchange = _converse(mock_llm, on_length="continue")
    assert len(exchange.calls) == 3
    assert "truncated" in extract_code(exchange.reply, exchange.reasoning, exchange.finish_reason).reason


def test_call_record_fields(mock_llm):
    mock_llm.script = [{"content": "hello there", "reasoning": "why"}]
    record = _converse(mock_llm).calls[0]
    for key in ("prompt", "reply", "reasoning", "tokens_in", "tokens_out", "latency_s", "finish_reason", "attempt"):
        assert key in record, key
    assert record["prompt"] == MESSAGES
    assert record["reply"] == "hello there"
    assert record["reasoning"] == "why"
    assert record["candidate"] == 3
    assert record["tokens_out"] == 2
    assert record["latency_s"] >= 0


@pytest.mark.parametrize(
    ("raw", "content_type", "expected"),
    [
        ("<html>this is not json</html>", "text/html", "not JSON (text/html"),
        ("{not json at all", "application/json", "not JSON (application/json"),
        ('{"id": "x", "object": "chat.completion"}', "application/json", "no 'choices' list"),
        ('{"choices": [{"message": {"content": 5}}]}', "application/json", "no message with text content"),
    ],
)
def test_body_that_is_not_a_completion_is_retried_then_named(mock_llm, raw, content_type, expected):
    mock_llm.script = [{"raw": raw, "content_type": content_type}]
    with pytest.raises(NncaptionError) as caught:
        _backend(mock_llm, retries=1).complete(MESSAGES, max_tokens=50, key=KEY)
    message = str(caught.value)
    assert len(mock_llm.requests) == 2
    assert mock_llm.url in message
    assert expected in message
    assert raw[:20] in message
    assert "\n" not in message


def test_body_that_is_not_a_completion_then_a_good_one(mock_llm):
    mock_llm.script = [{"raw": "<html>busy</html>", "content_type": "text/html"}, {"content": "fine"}]
    reply = _backend(mock_llm).complete(MESSAGES, max_tokens=50, key=KEY)
    assert reply.content == "fine"
    assert reply.attempt == 2
    assert reply.errors[0].startswith("HTTP 200 but the body is not JSON")


@pytest.mark.parametrize("value", ["nan", "inf", "-5", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_unusable_retry_after_falls_back_to_backoff(mock_llm, value):
    mock_llm.script = [{"status": 503, "headers": {"retry-after": value}}, {"content": "fine"}]
    reply = _backend(mock_llm, backoff_s=0.01).complete(MESSAGES, max_tokens=50, key=KEY)
    assert reply.content == "fine"
    assert reply.attempt == 2


def test_retry_after_in_seconds_is_used():
    from nncaption.generate.llm.openai_backend import _retry_after

    class Response:
        def __init__(self, value):
            self.headers = {"retry-after": value}

    class Error:
        def __init__(self, value):
            self.response = Response(value)

    assert _retry_after(Error("1.5")) == 1.5
    assert _retry_after(Error("100000")) == 100000.0
    assert _retry_after(Error("nan")) is None
    assert _retry_after(Error("-1")) is None


def test_retry_after_over_cap_is_named(mock_llm, monkeypatch, caplog):
    from nncaption.generate.llm import openai_backend

    waits: list[float] = []
    monkeypatch.setattr(openai_backend, "sleep_cancellable", waits.append)
    mock_llm.script = [{"status": 429, "headers": {"retry-after": "100000"}}, {"content": "fine"}]
    with caplog.at_level("WARNING", logger="nncaption.generate.llm.openai_backend"):
        reply = _backend(mock_llm).complete(MESSAGES, max_tokens=50, key=KEY)

    assert reply.content == "fine"
    assert waits == [120.0]
    assert "Retry-After requested 100000 s; waits are capped at 120 s" in reply.errors[0]
    assert "in 120.0 s" in caplog.text


def test_empty_choices_retried_then_named(mock_llm):
    mock_llm.script = [{"raw": '{"choices": []}'}, {"content": "fine"}]
    reply = _backend(mock_llm).complete(MESSAGES, max_tokens=50, key=KEY)
    assert reply.content == "fine"
    assert reply.attempt == 2
    assert "empty 'choices' list" in reply.errors[0]


def test_status_without_body_named_once():
    from nncaption.generate.llm.openai_backend import _error_text

    class Error:
        status_code = 429
        body = None
        message = "Error code: 429"

    assert _error_text(Error()) == "no error message in the response body"


def test_hung_request_is_abandoned_on_cancel(mock_llm):
    from nncaption.generate.llm.cancel import CANCELLED, RequestCancelled, cancel_requests

    mock_llm.script = [{"hang": True}]
    backend = _backend(mock_llm, request_timeout_s=600.0)
    timer = threading.Timer(0.5, cancel_requests)
    timer.start()
    try:
        started = time.monotonic()
        with pytest.raises(RequestCancelled):
            backend.complete(MESSAGES, max_tokens=50, key=KEY)
        assert time.monotonic() - started < 5.0
        # Later requests give up at once until a new backend starts a new run.
        with pytest.raises(RequestCancelled):
            backend.complete(MESSAGES, max_tokens=50, key=KEY)
    finally:
        timer.cancel()
        CANCELLED.clear()


def test_refused_connection_message_has_one_period():
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = OpenAIBackend(GeneratorConfig(kind="openai", base_url=f"http://127.0.0.1:{port}/v1", retries=1, backoff_s=0.01))
    with pytest.raises(NncaptionError) as caught:
        backend.complete(MESSAGES, max_tokens=5, key=KEY)
    message = str(caught.value)
    assert "connection failed" in message
    assert "(2 times)" in message
    assert ".." not in message


def test_http_client_request_lines_are_quiet():
    import logging

    from nncaption.cli.main import configure_logging

    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        configure_logging(0, False)
        for name in ("httpx", "httpx2", "httpcore", "openai"):
            assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
