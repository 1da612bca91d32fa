"""Fixtures for the sandbox tests: the stand-in trial entry and the hostile corpus."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nncaption.sandbox import SandboxLimits, SandboxResult, run_in_sandbox
from nncaption.sandbox.runner import group_members

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
STUB_ENTRY = "sandbox_stub_trial"

# The child gets the parent's sys.path as PYTHONPATH, so the stub entry and the corpus base
# class must be importable from here.
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


def fast_limits(**overrides: Any) -> SandboxLimits:
    """Limits small enough that a hostile candidate fails within seconds."""
    settings: dict[str, Any] = {
        "wall_seconds": 30.0,
        "grace_seconds": 1.0,
        "memory_bytes": 4 * 1024**3,
        "phase_seconds": {"build": 10.0, "behaviour": 10.0, "train": 10.0, "evaluate": 10.0},
    }
    settings.update(overrides)
    return SandboxLimits(**settings)


@pytest.fixture
def run_candidate(tmp_path: Path) -> Callable[..., tuple[SandboxResult, Path]]:
    """Run one corpus file through the real sandbox; return the result and the trial directory."""

    def run(name: str, request: dict[str, Any] | None = None, **overrides: Any) -> tuple[SandboxResult, Path]:
        workdir = tmp_path / "trial"
        full_request = {"candidate": str(CORPUS / f"{name}.py")}
        full_request.update(request or {})
        result = run_in_sandbox(STUB_ENTRY, full_request, workdir, fast_limits(**overrides))
        return result, workdir

    return run


def assert_group_empty(result: SandboxResult) -> None:
    assert result.pid is not None
    assert result.leftover_pids == []
    assert group_members(result.pid) == []
