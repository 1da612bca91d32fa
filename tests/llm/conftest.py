"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, started per test."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class MockLLM:
    """The server's script (one step per request, the last one repeats) and what it received."""

    url: str
    script: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_step(self) -> dict[str, Any]:
        with self.lock:
            index = min(len(self.requests) - 1, len(self.script) - 1)
            return self.script[index] if self.script else {"content": "ok"}


def _completion(step: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": step.get("content")}
    for name in ("reasoning_content", "reasoning"):
        if name in step:
            message[name] = step[name]
    content = step.get("content") or ""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "mock"),
        "choices": [{"index": 0, "message": message, "finish_reason": step.get("finish_reason", "stop")}],
        "usage": {
            "prompt_tokens": sum(len(m["content"].split()) for m in request.get("messages", [])),
            "completion_tokens": len(content.split()),
            "total_tokens": 0,
        },
    }


def _handler(mock: MockLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with mock.lock:
                mock.requests.append(body)
                mock.headers.append({k.lower(): v for k, v in self.headers.items()})
                mock.in_flight += 1
                mock.max_in_flight = max(mock.max_in_flight, mock.in_flight)
            try:
                self._answer(mock.next_step(), body)
            finally:
                with mock.lock:
                    mock.in_flight -= 1

        def _answer(self, step: dict[str, Any], body: dict[str, Any]) -> None:
            time.sleep(step.get("delay", 0.0))
            if step.get("hang"):
                time.sleep(3600)  # a hung server; daemon thread, dies with the test process
                return
            if "raw" in step:  # a 200 body that is not a chat completion
                self._send_raw(step["raw"].encode(), step.get("content_type", "application/json"))
                return
            if step.get("drop"):
                self.close_connection = True
                self.connection.close()
                return
            status = step.get("status", 200)
            payload = _completion(step, body) if status == 200 else {"error": {"message": f"scripted {status}"}}
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in step.get("headers", {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def _send_raw(self, data: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture
def mock_llm() -> Iterator[MockLLM]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), None)  # type: ignore[arg-type]
    mock = MockLLM(url=f"http://127.0.0.1:{server.server_address[1]}/v1")
    server.RequestHandlerClass = _handler(mock)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield mock
    server.shutdown()
    server.server_close()
