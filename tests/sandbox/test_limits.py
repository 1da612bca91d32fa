"""Limit settings and their conversion to rlimits."""

from __future__ import annotations

import pytest

from nncaption.sandbox.limits import (
    GIB,
    MIN_MEMORY_BYTES,
    SandboxLimits,
    default_memory_bytes,
    resolve_rlimits,
)


def test_default_memory_divides_by_slots() -> None:
    one = default_memory_bytes(1)
    four = default_memory_bytes(4)

    assert one >= MIN_MEMORY_BYTES
    assert four >= MIN_MEMORY_BYTES
    assert four <= one


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
