"""Child side of the sandbox: confine the process, then hand over to the entry module.

Usage (by the runner only):
    python -m nncaption.sandbox.child ENTRY_MODULE REQUEST_FILE CHANNEL_FD SETTINGS_JSON

Order matters: the network namespace and the rlimits come first, then the preloaded modules
(numpy, torch), then the Landlock write rules, the seccomp filter and the audit-hook guard, and only then the entry
module, which imports the candidate. Whatever happens afterwards, the process ends with `os._exit`, so a thread the
candidate left running cannot keep it alive.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import signal
import sys
import sysconfig
import threading
import time
import traceback
from typing import Any

from nncaption.sandbox.guard import Guard, enter_network_namespace
from nncaption.sandbox.landlock import restrict_writes
from nncaption.sandbox.limits import apply_rlimits
from nncaption.sandbox.seccomp import install_filter

# Freed on MemoryError so that the error record can still be built and sent.
MEMORY_RESERVE_BYTES = 8 * 1024 * 1024


class Channel:
    """JSON-lines writer on the pipe to the parent; safe to call from several threads."""

    def __init__(self, fd: int) -> None:
        self._file = os.fdopen(fd, "w", encoding="utf-8", buffering=1)
        self._lock = threading.RLock()  # the guard may report from inside a send on the same thread

    def send(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, allow_nan=False, default=_jsonable) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _die_with_parent() -> None:
    """Ask the kernel for SIGKILL when the parent dies, so a killed search leaves no trial running.

    The process group kill covers a parent that ends normally; this covers a parent that is
    itself killed with SIGKILL. The signal fires when the parent's launching thread exits,
    and the runner's thread waits for the child, so it fires only when the parent is gone.
    """
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError) as exc:  # not Linux, or no prctl: the group kill still applies
        print(f"nncaption sandbox: parent-death signal not set: {exc}", file=sys.stderr)
        return
    if parent == 1 or os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _confine(settings: dict[str, Any], channel: Channel) -> dict[str, Any]:
    """Apply network isolation, rlimits, preloads and the guard; return what was applied."""
    started = time.monotonic()
    _die_with_parent()
    namespace = enter_network_namespace() if settings["network_namespace"] else ""
    apply_rlimits(settings["rlimits"])
    for name in settings["preload"]:
        importlib.import_module(name)
    landlock_abi, landlock_error = _restrict_writes(settings)
    seccomp_error = install_filter() if settings["seccomp"] else "disabled in SandboxLimits"
    if seccomp_error and settings["seccomp"]:
        print(f"nncaption sandbox: seccomp filter not installed: {seccomp_error}", file=sys.stderr)
    if settings["guard"]:
        library_dirs = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
        guard = Guard(settings["workdir"], settings["writable_paths"], channel.send, library_dirs)
        guard.install()
    return {
        "type": "sandbox",
        "pid": os.getpid(),
        "network_namespace": namespace,
        "guard": bool(settings["guard"]),
        "seccomp": not seccomp_error,
        "landlock": landlock_abi if not landlock_error else 0,
        "landlock_error": landlock_error,
        "rlimits": settings["rlimits"],
        "startup_seconds": round(time.monotonic() - started, 3),
    }


def _restrict_writes(settings: dict[str, Any]) -> tuple[int, str]:
    """Apply the Landlock write ruleset; return (ABI version, "" or why it is not in force)."""
    if not settings.get("landlock", True):
        return 0, "disabled in SandboxLimits"
    abi, error = restrict_writes([settings["workdir"], *settings["writable_paths"]])
    if error:
        print(f"nncaption sandbox: Landlock write rules not installed: {error}", file=sys.stderr)
    return abi, error


def _error_record(exc: BaseException) -> dict[str, Any]:
    return {
        "type": "error",
        "error": type(exc).__name__,
        "message": str(exc)[:2000],
        "traceback": "".join(traceback.format_exception(exc))[-4000:],
    }


def _send_error(channel: Channel, exc: BaseException) -> None:
    try:
        channel.send(_error_record(exc))
    except Exception as send_exc:  # the channel is closed or the record cannot be encoded
        print(f"nncaption sandbox: cannot send the error record: {send_exc!r}", file=sys.stderr)
        traceback.print_exception(exc, file=sys.stderr)


def run(argv: list[str]) -> int:
    entry, request_file, fd, settings_json = argv
    channel = Channel(int(fd))
    settings = json.loads(settings_json)
    reserve = bytearray(MEMORY_RESERVE_BYTES)
    try:
        channel.send(_confine(settings, channel))
        with open(request_file, encoding="utf-8") as handle:
            request = json.load(handle)
        module = importlib.import_module(entry)
        module.main(request, channel)
    except BaseException as exc:  # the trial boundary: every failure becomes a record
        del reserve
        _send_error(channel, exc)
        return 1
    return 0


def main() -> None:
    code = run(sys.argv[1:])
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # the candidate closed or broke its own output stream
    os._exit(code)


if __name__ == "__main__":
    main()
