"""Shared helpers of the sandbox tests (a uniquely named module, since several test folders have a conftest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nncaption.sandbox import SandboxLimits, SandboxResult
from nncaption.sandbox.runner import group_members

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
STUB_ENTRY = "sandbox_stub_trial"


def fast_limits(**overrides: Any) -> SandboxLimits:
    """Limits small enough that a hostile candidate fails within seconds."""
    settings: dict[str, Any] = {
        "wall_seconds": 60.0,
        "grace_seconds": 1.0,
        "memory_bytes": 4 * 1024**3,
        "phase_seconds": {"build": 20.0, "behaviour": 20.0, "train": 20.0, "evaluate": 20.0},
    }
    settings.update(overrides)
    return SandboxLimits(**settings)


def assert_group_empty(result: SandboxResult) -> None:
    assert result.pid is not None
    assert result.leftover_pids == []
    assert group_members(result.pid) == []
