"""Limit settings and their conversion to rlimits."""

from __future__ import annotations

import time

import pytest

from nncaption.sandbox.limits import (
    GIB,
    MIN_MEMORY_BYTES,
    SandboxLimits,
    default_memory_bytes,
    resolve_rlimits,
)
from nncaption.sandbox.runner import _Deadlines


def test_default_memory_divides_by_slots() -> None:
    one = default_memory_bytes(1)
    four = default_memory_bytes(4)

    assert one >= MIN_MEMORY_BYTES
    assert four >= MIN_MEMORY_BYTES
    assert four <= one


def test_default_memory_from_available(monkeypatch) -> None:
    from nncaption.sandbox import limits

    monkeypatch.setattr(limits, "machine_memory_bytes", lambda: 32 * GIB)
    monkeypatch.setattr(limits, "available_memory_bytes", lambda: 10 * GIB)
    limits.memory_at_start.cache_clear()
    try:
        assert default_memory_bytes(1) == int(0.8 * 10 * GIB)
        assert default_memory_bytes(2) == int(0.4 * 10 * GIB)
        # A later drop in available memory leaves the limit as measured at the first call.
        monkeypatch.setattr(limits, "available_memory_bytes", lambda: 1 * GIB)
        assert default_memory_bytes(1) == int(0.8 * 10 * GIB)
    finally:
        limits.memory_at_start.cache_clear()


def test_default_memory_without_meminfo(monkeypatch) -> None:
    from nncaption.sandbox import limits

    monkeypatch.setattr(limits, "machine_memory_bytes", lambda: 8 * GIB)
    monkeypatch.setattr(limits, "available_memory_bytes", lambda: None)
    limits.memory_at_start.cache_clear()
    try:
        assert default_memory_bytes(1) == int(0.8 * 8 * GIB)
        assert default_memory_bytes(8) == MIN_MEMORY_BYTES
    finally:
        limits.memory_at_start.cache_clear()


def test_available_memory_is_positive() -> None:
    from nncaption.sandbox.limits import available_memory_bytes, machine_memory_bytes

    available = available_memory_bytes()
    assert available is not None
    assert 0 < available <= machine_memory_bytes()


def test_rlimits_for_cpu_trial() -> None:
    rlimits = resolve_rlimits(SandboxLimits(wall_seconds=100, threads=2, memory_bytes=3 * GIB), None)

    assert rlimits["RLIMIT_AS"] == [3 * GIB, 3 * GIB]
    assert "RLIMIT_DATA" not in rlimits
    assert rlimits["RLIMIT_CPU"] == [330, 335]
    assert rlimits["RLIMIT_CORE"] == [0, 0]
    assert rlimits["RLIMIT_NPROC"][0] > 0


def test_rlimits_with_gpu_use_data_segment() -> None:
    rlimits = resolve_rlimits(SandboxLimits(memory_bytes=3 * GIB), "0")

    assert rlimits["RLIMIT_DATA"] == [3 * GIB, 3 * GIB]
    assert "RLIMIT_AS" not in rlimits


def test_memory_limit_off() -> None:
    rlimits = resolve_rlimits(SandboxLimits(memory_kind="off"), None)

    assert "RLIMIT_AS" not in rlimits
    assert "RLIMIT_DATA" not in rlimits


def test_invalid_limits_rejected() -> None:
    with pytest.raises(ValueError, match="memory_kind"):
        SandboxLimits(memory_kind="rss")
    with pytest.raises(ValueError, match="wall_seconds"):
        SandboxLimits(wall_seconds=0)
    with pytest.raises(ValueError, match="threads"):
        SandboxLimits(threads=0)


def test_phase_deadline_takes_smaller_limit() -> None:
    limits = SandboxLimits(wall_seconds=100, phase_seconds={"train": 30.0})
    deadlines = _Deadlines(time.monotonic(), limits)

    deadlines.start_phase({"type": "phase", "name": "train", "timeout_s": 5})
    assert deadlines.phase_limit == 5
    deadlines.start_phase({"type": "phase", "name": "train", "timeout_s": 50})
    assert deadlines.phase_limit == 30.0
    deadlines.start_phase({"type": "phase", "name": "evaluate"})
    assert deadlines.phase_limit is None
    assert deadlines.next() == deadlines.trial


def test_phase_deadline_expiry_names_phase() -> None:
    started = time.monotonic()
    deadlines = _Deadlines(started, SandboxLimits(wall_seconds=100))
    deadlines.start_phase({"type": "phase", "name": "epoch 2", "timeout_s": 10})

    assert deadlines.expired(time.monotonic()) is None
    assert deadlines.expired(time.monotonic() + 11) == ("epoch 2", 10)
    deadlines.start_phase({"type": "phase", "name": "evaluate"})
    assert deadlines.expired(started + 101) == (None, 100)
