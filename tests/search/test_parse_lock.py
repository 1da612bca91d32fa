"""The process-wide `ast.parse` lock that the search installs before it starts threads."""

from __future__ import annotations

import ast
import gc
import sys
import threading

from nncaption.search.parse_lock import install_parse_lock

SOURCE = "\n".join(f"def f{i}(x):\n    return [x + {i} for _ in range(3)]\n" for i in range(40))


class _Finalized:
    """Garbage whose finalizer runs Python code, so a collection inside a parse can switch threads."""

    def __del__(self) -> None:
        total = 0
        for i in range(20):
            total += i


def _parse_in_threads(threads: int = 3, rounds: int = 150) -> list[str]:
    errors: list[str] = []

    def work() -> None:
        for _ in range(rounds):
            for _ in range(10):
                a, b = _Finalized(), _Finalized()
                a.other, b.other = b, a  # a reference cycle, freed only by the collector
            try:
                ast.parse(SOURCE)
            except SystemError as exc:
                errors.append(str(exc))
                return

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return errors


def test_parse_lock_concurrent_parses_succeed(monkeypatch):
    monkeypatch.setattr(ast, "parse", ast.parse)  # restore the unlocked parse after the test
    install_parse_lock()
    threshold, interval = gc.get_threshold(), sys.getswitchinterval()
    gc.set_threshold(50)
    sys.setswitchinterval(1e-6)
    try:
        errors = _parse_in_threads()
    finally:
        gc.set_threshold(*threshold)
        sys.setswitchinterval(interval)
    assert errors == []


def test_parse_lock_install_idempotent(monkeypatch):
    monkeypatch.setattr(ast, "parse", ast.parse)
    install_parse_lock()
    locked = ast.parse
    install_parse_lock()
    assert ast.parse is locked
    assert isinstance(ast.parse("x = 1"), ast.Module)
