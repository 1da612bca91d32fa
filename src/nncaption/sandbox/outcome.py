"""Turn how a child process ended into a candidate status and message."""

from __future__ import annotations

import re
import signal

from nncaption.sandbox.guard import POLICY_EXIT_CODE
from nncaption.sandbox.runner import SandboxResult
from nncaption.status import Status

# Statuses that trial code may name in the "status" field of its own error records.
CHILD_STATUSES = frozenset(
    {
        Status.CONTRACT_VIOLATION,
        Status.BUILD_ERROR,
        Status.SMOKE_FAILED,
        Status.TRAIN_ERROR,
        Status.DIVERGED,
        Status.OUT_OF_MEMORY,
    }
)
_OOM_ERRORS = frozenset({"MemoryError", "OutOfMemoryError"})
# Messages of allocation failures raised as other exception types: torch's CPU allocator
# ("DefaultCPUAllocator: can't allocate memory"), CUDA and the C++ runtime (std::bad_alloc).
_OOM_PATTERN = re.compile(r"can't allocate memory|out of memory|std::bad_alloc|Cannot allocate memory", re.IGNORECASE)
TRACEBACK_LINES = 3


def is_allocation_failure(message: str) -> bool:
    """True when an error message is a failed memory allocation, whatever the exception type."""
    return _OOM_PATTERN.search(message) is not None


def failed_check_status(check_name: str, message: str) -> Status:
    """Return the status of a failed behavioural check: out_of_memory for an allocation failure,
    else build_error for the `build` check and smoke_failed for any other."""
    if is_allocation_failure(message):
        return Status.OUT_OF_MEMORY
    return Status.BUILD_ERROR if check_name == "build" else Status.SMOKE_FAILED


def classify_failure(result: SandboxResult) -> tuple[Status, str]:
    """Status and message for a child that did not send a final record."""
    if result.policy is not None:
        return Status.POLICY_VIOLATION, f"rejected {result.policy['action']}: {result.policy.get('detail', '')}"
    if result.timed_out:
        return Status.TIMEOUT, _timeout_message(result)
    errors = [r for r in result.records if r.get("type") == "error"]
    if errors:
        return _classify_error(errors[-1])
    if result.signal_name is not None:
        return _classify_signal(result)
    if result.returncode == POLICY_EXIT_CODE:
        return Status.POLICY_VIOLATION, "the guard rejected an action, but its policy record was lost"
    if _OOM_PATTERN.search(result.stderr_tail):
        return Status.OUT_OF_MEMORY, f"trial process exited with code {result.returncode}: {_last_line(result.stderr_tail)}"
    return Status.CRASHED, (
        f"trial process exited with code {result.returncode} without a result: {_last_line(result.stderr_tail)}"
    )


def _timeout_message(result: SandboxResult) -> str:
    limit = f"{result.timeout_limit_s:g} s" if result.timeout_limit_s else "its limit"
    if result.timeout_phase is not None:
        return f"phase {result.timeout_phase!r} exceeded its wall-clock limit of {limit}"
    where = f" (in phase {result.phase!r})" if result.phase else ""
    return f"trial exceeded its wall-clock limit of {limit}{where}"


def _classify_error(error: dict) -> tuple[Status, str]:
    name = str(error.get("error"))
    message = str(error.get("message", ""))
    phase = error.get("phase")
    where = f" during {phase}" if phase else ""
    text = f"{name}{where}: {message}"
    lines = [line for line in str(error.get("traceback", "")).strip().splitlines() if line.strip()]
    if lines:
        text += "\n" + "\n".join(lines[-TRACEBACK_LINES:])

    # An allocation failure outranks the status the trial code claims, because generic
    # trial code reports every exception of a phase with one status.
    if name in _OOM_ERRORS or _OOM_PATTERN.search(message):
        return Status.OUT_OF_MEMORY, text
    claimed = error.get("status")
    if claimed in {s.value for s in CHILD_STATUSES}:
        return Status(claimed), text
    return Status.TRAIN_ERROR, text


def _classify_signal(result: SandboxResult) -> tuple[Status, str]:
    name = result.signal_name
    if name == signal.SIGXCPU.name:
        return Status.TIMEOUT, "trial process exceeded its CPU-time limit (SIGXCPU)"
    if name == signal.SIGABRT.name and _OOM_PATTERN.search(result.stderr_tail):
        return Status.OUT_OF_MEMORY, f"trial process aborted on a failed allocation: {_last_line(result.stderr_tail)}"
    if name == signal.SIGKILL.name:
        # Our own SIGKILL only follows a timeout, which is handled above.
        return Status.CRASHED, "trial process killed by SIGKILL (possibly the kernel's out-of-memory killer)"
    return Status.CRASHED, f"trial process killed by {name}"


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "no output"
