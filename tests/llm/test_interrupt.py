"""The first Ctrl-C ends a process whose generator threads wait on a hung LLM server."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

# Two threads in a pool, as in the search driver, each waiting on a request the server never answers.
POOL_SCRIPT = textwrap.dedent(
    """
    import sys
    from concurrent.futures import ThreadPoolExecutor, wait
    from nncaption.config import GeneratorConfig
    from nncaption.generate.llm.backend import RequestKey
    from nncaption.generate.llm.openai_backend import OpenAIBackend

    config = GeneratorConfig(kind="openai", base_url=sys.argv[1], model="m", request_timeout_s=600.0, retries=4)
    backend = OpenAIBackend(config)
    messages = [{"role": "user", "content": "write a model"}]
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(backend.complete, messages, max_tokens=5, key=RequestKey(i, 0)) for i in range(2)]
        print("waiting", flush=True)
        wait(futures)
    """
)


def _wait_for_requests(mock_llm, count: int, limit_s: float = 30.0) -> None:
    deadline = time.monotonic() + limit_s
    while len(mock_llm.requests) < count:
        assert time.monotonic() < deadline, f"the server saw {len(mock_llm.requests)} of {count} requests"
        time.sleep(0.05)


def _interrupt(process: subprocess.Popen, limit_s: float) -> float:
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=limit_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"the process was still running {limit_s} s after one SIGINT")
    return time.monotonic() - started


def test_one_sigint_ends_threads_waiting_on_a_hung_server(mock_llm, tmp_path):
    mock_llm.script = [{"hang": True}]
    script = tmp_path / "pool.py"
    script.write_text(POOL_SCRIPT, encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, str(script), mock_llm.url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "waiting"
    _wait_for_requests(mock_llm, 2)
    seconds = _interrupt(process, limit_s=10.0)
    stderr = process.stderr.read()
    assert "KeyboardInterrupt" in stderr
    assert process.returncode != 0
    assert seconds < 10.0


@pytest.mark.slow
def test_search_cli_exits_130_on_first_sigint(mock_llm, tmp_path):
    mock_llm.script = [{"hang": True}]
    nncaption = Path(sys.executable).with_name("nncaption")
    settings = {
        "search.candidates": 1, "search.baselines": "false", "trial.epochs": 1,
        "data.synthetic_images": 60, "data.synthetic_size": 32, "data.image_size": 16, "data.min_count": 1,
        "data.cache_dir": tmp_path / "cache", "generator.kind": "openai", "generator.base_url": mock_llm.url,
        "generator.model": "test", "generator.request_timeout_s": 600,
    }
    command = [str(nncaption), "search", "--run-dir", str(tmp_path / "run")]
    for key, value in settings.items():
        command += ["--set", f"{key}={value}"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_for_requests(mock_llm, 1, limit_s=120.0)
    time.sleep(0.5)
    _interrupt(process, limit_s=15.0)
    assert process.returncode == 130
    assert process.stderr.read().rstrip().endswith("nncaption search: interrupted")
