"""Statuses for trials that ended without a final record."""

from __future__ import annotations

import pytest

from nncaption.sandbox.guard import POLICY_EXIT_CODE
from nncaption.sandbox.outcome import classify_failure, failed_check_status
from nncaption.sandbox.runner import SandboxResult
from nncaption.status import Status


def error(name: str, message: str = "", **extra: str) -> dict:
    return {"type": "error", "error": name, "message": message, "traceback": "Traceback\n  line a\n  line b\nboom", **extra}


def test_policy_outranks_everything() -> None:
    result = SandboxResult(
        records=[error("PermissionError")], timed_out=True, policy={"type": "policy", "action": "os.fork", "detail": "no"}
    )

    assert classify_failure(result) == (Status.POLICY_VIOLATION, "rejected os.fork: no")


def test_timeout_names_phase_and_limit() -> None:
    status, message = classify_failure(SandboxResult(timed_out=True, timeout_phase="epoch-2", timeout_limit_s=60.0))

    assert status == Status.TIMEOUT
    assert "'epoch-2'" in message
    assert "60 s" in message


def test_error_statuses() -> None:
    cases = [
        (error("MemoryError"), Status.OUT_OF_MEMORY),
        (error("OutOfMemoryError", "CUDA out of memory. Tried to allocate 2.00 GiB"), Status.OUT_OF_MEMORY),
        (error("RuntimeError", "DefaultCPUAllocator: can't allocate memory: you tried to allocate 68719476736 bytes"), Status.OUT_OF_MEMORY),
        (error("MemoryError", status="train_error"), Status.OUT_OF_MEMORY),
        (error("FloatingPointError", status="diverged"), Status.DIVERGED),
        (error("ValueError", status="build_error"), Status.BUILD_ERROR),
        (error("TrialFailure", status="contract_violation"), Status.CONTRACT_VIOLATION),
        (error("ValueError", status="trained"), Status.TRAIN_ERROR),
        (error("KeyError"), Status.TRAIN_ERROR),
    ]
    for record, expected in cases:
        status, _ = classify_failure(SandboxResult(records=[record]))
        assert status == expected, record


def test_error_message_has_phase_and_traceback_tail() -> None:
    _, message = classify_failure(SandboxResult(records=[error("KeyError", "'lr'", phase="build")]))

    assert message.startswith("KeyError during build: 'lr'")
    assert message.endswith("line a\n  line b\nboom")


def test_signal_statuses() -> None:
    assert classify_failure(SandboxResult(returncode=-11, signal_name="SIGSEGV")) == (
        Status.CRASHED,
        "trial process killed by SIGSEGV",
    )
    assert classify_failure(SandboxResult(returncode=-24, signal_name="SIGXCPU"))[0] == Status.TIMEOUT
    aborted = SandboxResult(returncode=-6, signal_name="SIGABRT", stderr_tail="terminate called after throwing an instance of 'std::bad_alloc'")
    assert classify_failure(aborted)[0] == Status.OUT_OF_MEMORY


def test_exit_without_records() -> None:
    status, message = classify_failure(SandboxResult(returncode=3, stderr_tail="ImportError: no module\n"))
    assert status == Status.CRASHED
    assert "code 3" in message
    assert "ImportError: no module" in message

    assert classify_failure(SandboxResult(returncode=POLICY_EXIT_CODE))[0] == Status.POLICY_VIOLATION


ALLOC_MESSAGE = (
    "RuntimeError: [enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
    "you tried to allocate 64424509440 bytes. Error code 12 (Cannot allocate memory)"
)


def test_failed_check_status_for_allocation() -> None:
    assert failed_check_status("build", ALLOC_MESSAGE) == Status.OUT_OF_MEMORY
    assert failed_check_status("forward_shape", ALLOC_MESSAGE) == Status.OUT_OF_MEMORY
    assert failed_check_status("build", "ValueError: bad in_shape") == Status.BUILD_ERROR
    assert failed_check_status("causality", "logits changed") == Status.SMOKE_FAILED


class _Channel:
    def __init__(self) -> None:
        self.records: list[dict] = []

    def send(self, record: dict) -> None:
        self.records.append(record)


@pytest.mark.parametrize(("message", "expected"), [(ALLOC_MESSAGE, "out_of_memory"), ("ValueError: no", "build_error")])
def test_trial_child_reports_build_allocation_failure(monkeypatch, message: str, expected: str) -> None:
    from nncaption.trial import child
    from nncaption.trial.child import TrialFailure

    def fail_build(request: dict, channel: object) -> None:
        raise TrialFailure("build_error", "build", message)

    monkeypatch.setattr(child, "seed_everything", lambda seed, threads: None)
    monkeypatch.setattr(child, "_train", fail_build)
    channel = _Channel()
    child.main({"seed": 0, "mode": "train"}, channel)

    assert channel.records[-1]["status"] == expected
    assert channel.records[-1]["phase"] == "build"
