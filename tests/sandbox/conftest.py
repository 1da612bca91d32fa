"""Fixtures for the sandbox tests: the stand-in trial entry and the hostile corpus."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent

# The child gets the parent's sys.path as PYTHONPATH, so the stub entry and the corpus base
# class must be importable from this folder.
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from sandbox_helpers import CORPUS, STUB_ENTRY, fast_limits  # noqa: E402

from nncaption.sandbox import SandboxResult, run_in_sandbox  # noqa: E402


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
