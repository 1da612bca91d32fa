"""Parent side of the sandbox: start the child interpreter, read its pipes, enforce the deadlines.

The child is a fresh interpreter (`python -m nncaption.sandbox.child`), never a fork of the
parent, in its own session and process group, with stdin from /dev/null, an environment built
from an allow-list, and the trial directory as its working directory. Its stdout and stderr
go through pipes to `stdout.log` and `stderr.log` in the trial directory, capped at
`SandboxLimits.output_bytes` each (the head and the tail are kept). It sends JSON records,
one per line, on a third pipe. When the trial ends, times out or fails, its whole process
group gets SIGTERM, then SIGKILL after the grace period.

Records the child sends (each a JSON object with a string "type"):

- ``{"type": "phase", "name": "train", "timeout_s": 120}`` starts a phase. The parent ends the
  trial as timed out when the phase is still current `timeout_s` seconds later. Without
  `timeout_s` the parent uses `SandboxLimits.phase_seconds[name]`; when both are given, the
  smaller one counts. The next phase record replaces the phase deadline. Phase deadlines only
  cut a trial shorter: `SandboxLimits.wall_seconds` bounds the whole trial in any case. Trial
  code announces, for example, "build", "behaviour", "epoch-1" ... and "evaluate".
- ``{"type": "error", "error": ..., "message": ..., "traceback": ..., "phase": ..., "status": ...}``
  reports an exception; the child bootstrap sends one for any uncaught exception. The optional
  "status" lets trial code name the status itself (for example "diverged"); see
  `outcome.CHILD_STATUSES` for the values accepted.
- ``{"type": "policy", "action": ..., "detail": ...}`` is sent by the guard when it rejected an
  action, right before the child exits with `guard.POLICY_EXIT_CODE`.
- ``{"type": "sandbox", ...}`` is sent by the child bootstrap once confined: the network
  namespace, the rlimits and the start-up time.
- ``{"type": "result", ...}`` is the trial's final record. Any other type is passed on as it is.

Every valid record is appended to `SandboxResult.records` and passed to `on_record` as it
arrives. Invalid lines (not JSON, not an object, over the size cap) are only counted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nncaption.errors import SandboxError
from nncaption.sandbox.limits import SandboxLimits, resolve_rlimits
from nncaption.sandbox.streams import CappedLog, RecordReader

log = logging.getLogger(__name__)

REQUEST_FILE = "request.json"
STDOUT_FILE = "stdout.log"
STDERR_FILE = "stderr.log"
READ_CHUNK_BYTES = 65536
PIPE_LINGER_SECONDS = 1.0  # how long the pipes may stay open after the child has exited
LEFTOVER_WAIT_SECONDS = 2.0


@dataclass
class SandboxResult:
    records: list[dict[str, Any]] = field(default_factory=list)
    returncode: int | None = None
    signal_name: str | None = None  # set when the child died from a signal
    timed_out: bool = False
    seconds: float = 0.0
    stderr_tail: str = ""
    invalid_records: int = 0
    pid: int | None = None  # also the process group and session id of the trial
    phase: str | None = None  # the last phase the child announced
    timeout_phase: str | None = None  # the phase that ran out of time; None for the trial limit
    timeout_limit_s: float | None = None  # the limit that expired, in seconds
    policy: dict[str, Any] | None = None  # the guard's policy record, when it rejected an action
    stdout_bytes: int = 0  # written by the child, before the cap
    stderr_bytes: int = 0
    output_bytes_dropped: int = 0  # stdout and stderr together
    channel_bytes: int = 0
    channel_overflow: bool = False  # records past SandboxLimits.channel_bytes were dropped
    sandbox: dict[str, Any] | None = None  # the child's `sandbox` record (isolation, start-up time)
    leftover_pids: list[int] = field(default_factory=list)  # group members still there after SIGKILL


class _Deadlines:
    """The trial's wall-clock deadline and the current phase's deadline."""

    def __init__(self, started: float, limits: SandboxLimits) -> None:
        self._limits = limits
        self.trial = started + limits.wall_seconds
        self.phase: float | None = None
        self.phase_name: str | None = None
        self.phase_limit: float | None = None

    def start_phase(self, record: dict[str, Any]) -> None:
        name = record["name"]
        candidates = [t for t in (record.get("timeout_s"), self._limits.phase_seconds.get(name)) if t]
        self.phase_name = name
        self.phase_limit = min(candidates) if candidates else None
        self.phase = time.monotonic() + self.phase_limit if self.phase_limit else None

    def next(self) -> float:
        return self.trial if self.phase is None else min(self.trial, self.phase)

    def expired(self, now: float) -> tuple[str | None, float] | None:
        """(phase name or None for the trial limit, limit in seconds) once a deadline passed."""
        if self.phase is not None and now >= self.phase and self.phase < self.trial:
            assert self.phase_limit is not None
            return self.phase_name, self.phase_limit
        if now >= self.trial:
            return None, self._limits.wall_seconds
        return None


# Process groups of the children running now, so that an interrupted parent can end them.
_ACTIVE_GROUPS: set[int] = set()
_ACTIVE_LOCK = threading.Lock()


def terminate_all() -> int:
    """SIGKILL the process group of every running child; return how many were signalled.

    For a parent that stops early (Ctrl-C): the child of each `run_in_sandbox` call then
    ends, the call cleans up as usual and returns, so threads waiting on trials finish at once.
    """
    with _ACTIVE_LOCK:
        groups = list(_ACTIVE_GROUPS)
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    return len(groups)


def run_in_sandbox(
    entry: str,
    request: dict[str, Any],
    workdir: Path,
    limits: SandboxLimits,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> SandboxResult:
    """Run `entry.main(request, channel)` in a confined child process with workdir as its cwd.

    Blocks until the child has ended and its process group is empty. Raises SandboxError
    only when the child cannot be started; every failure of the child is in the result.
    """
    workdir = Path(workdir).resolve()
    for path in (workdir, workdir / "home", workdir / "tmp"):
        path.mkdir(parents=True, exist_ok=True)
    (workdir / REQUEST_FILE).write_text(json.dumps(request), encoding="utf-8")

    cuda = limits.cuda_visible_devices
    if cuda is None:
        cuda = os.environ.get("CUDA_VISIBLE_DEVICES")
    settings = {
        "workdir": str(workdir),
        "writable_paths": [str(Path(p).resolve()) for p in limits.writable_paths],
        "rlimits": resolve_rlimits(limits, cuda),
        "network_namespace": limits.network_namespace,
        "guard": limits.guard,
        "seccomp": limits.seccomp,
        "landlock": limits.landlock,
        "preload": list(limits.preload),
    }
    result = SandboxResult()
    started = time.monotonic()
    process, pipes = _start_child(entry, workdir, settings, _child_environment(limits, workdir, cuda))
    result.pid = process.pid
    with _ACTIVE_LOCK:
        _ACTIVE_GROUPS.add(process.pid)
    stdout_log = CappedLog(workdir / STDOUT_FILE, limits.output_bytes)
    stderr_log = CappedLog(workdir / STDERR_FILE, limits.output_bytes)
    deadlines = _Deadlines(started, limits)

    def accept(record: dict[str, Any]) -> None:
        _note_record(record, result, deadlines)
        if on_record is not None:
            on_record(record)

    reader = RecordReader(limits.record_bytes, limits.channel_bytes, accept)
    channel_fd, stdout_fd, stderr_fd = pipes
    sinks = {channel_fd: reader.feed, stdout_fd: stdout_log.write, stderr_fd: stderr_log.write}
    try:
        _pump(process, sinks, deadlines, result)
    finally:
        for fd in pipes:
            os.close(fd)
        _kill_group(process, limits.grace_seconds)
        result.leftover_pids = _wait_group_empty(process.pid)
        with _ACTIVE_LOCK:
            _ACTIVE_GROUPS.discard(process.pid)
        stdout_log.close()
        stderr_log.close()

    reader.finish()
    _fill_result(result, process, reader, stdout_log, stderr_log, started)
    result.stderr_tail = _tail(workdir / STDERR_FILE, 4000)
    return result


def _start_child(
    entry: str, workdir: Path, settings: dict[str, Any], env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], tuple[int, int, int]]:
    """Start the child interpreter; return it and the read ends of channel, stdout and stderr."""
    channel_r, channel_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    stderr_r, stderr_w = os.pipe()
    command = [
        sys.executable,
        "-m",
        "nncaption.sandbox.child",
        entry,
        REQUEST_FILE,
        str(channel_w),
        json.dumps(settings),
    ]
    try:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=stdout_w,
            stderr=stderr_w,
            env=env,
            pass_fds=(channel_w,),
            start_new_session=True,
        )
    except OSError as exc:
        for fd in (channel_r, stdout_r, stderr_r):
            os.close(fd)
        raise SandboxError(f"cannot start the trial process in {workdir}: {exc}") from exc
    finally:
        for fd in (channel_w, stdout_w, stderr_w):
            os.close(fd)
    return process, (channel_r, stdout_r, stderr_r)


def _pump(
    process: subprocess.Popen[bytes],
    sinks: dict[int, Callable[[bytes], None]],
    deadlines: _Deadlines,
    result: SandboxResult,
) -> None:
    """Read the child's pipes until they close and the child exits, or a deadline passes."""
    open_fds = dict(sinks)
    exited_at: float | None = None
    while True:
        now = time.monotonic()
        expired = deadlines.expired(now)
        if expired is not None:
            result.timed_out = True
            result.timeout_phase, result.timeout_limit_s = expired
            return
        if exited_at is None and process.poll() is not None:
            exited_at = now
        if not open_fds or (exited_at is not None and now - exited_at > PIPE_LINGER_SECONDS):
            if exited_at is not None:
                return
            _wait_quietly(process, deadlines.next() - now)
            continue

        ready, _, _ = select.select(list(open_fds), [], [], max(0.0, min(deadlines.next() - now, 0.25)))
        for fd in ready:
            chunk = os.read(fd, READ_CHUNK_BYTES)
            if chunk:
                open_fds[fd](chunk)
            else:
                del open_fds[fd]


def _wait_quietly(process: subprocess.Popen[bytes], seconds: float) -> None:
    try:
        process.wait(timeout=max(0.0, min(seconds, 0.25)))
    except subprocess.TimeoutExpired:
        pass


def _note_record(record: dict[str, Any], result: SandboxResult, deadlines: _Deadlines) -> None:
    result.records.append(record)
    kind = record["type"]
    if kind == "phase":
        deadlines.start_phase(record)
        result.phase = record["name"]
    elif kind == "policy" and result.policy is None:
        result.policy = record
    elif kind == "sandbox" and result.sandbox is None:
        result.sandbox = record


def _fill_result(
    result: SandboxResult,
    process: subprocess.Popen[bytes],
    reader: RecordReader,
    stdout_log: CappedLog,
    stderr_log: CappedLog,
    started: float,
) -> None:
    result.seconds = time.monotonic() - started
    result.returncode = process.returncode
    if process.returncode is not None and process.returncode < 0:
        result.signal_name = signal.Signals(-process.returncode).name
    result.invalid_records = reader.invalid_records
    result.channel_bytes = reader.total_bytes
    result.channel_overflow = reader.overflowed
    result.stdout_bytes = stdout_log.total_bytes
    result.stderr_bytes = stderr_log.total_bytes
    result.output_bytes_dropped = stdout_log.dropped_bytes + stderr_log.dropped_bytes


def _kill_group(process: subprocess.Popen[bytes], grace_seconds: float) -> None:
    """End the child's whole process group: SIGTERM, then SIGKILL after the grace period."""
    if process.poll() is None:
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            pass
    # Members of the group may outlive the leader, so the group gets SIGKILL either way.
    _signal_group(process.pid, signal.SIGKILL)
    process.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def group_members(pgid: int) -> list[int]:
    """Processes whose process group or session is `pgid`, zombies included."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue  # the process ended while we looked
        fields = stat[stat.rfind(b")") + 2 :].split()
        if int(fields[2]) == pgid or int(fields[3]) == pgid:
            members.append(int(entry.name))
    return members


def _wait_group_empty(pgid: int) -> list[int]:
    """Wait until no process of the trial's group or session is left; return any that stay."""
    deadline = time.monotonic() + LEFTOVER_WAIT_SECONDS
    while True:
        members = group_members(pgid)
        if not members or time.monotonic() > deadline:
            break
        for pid in members:
            _kill_quietly(pid)
        time.sleep(0.05)
    if members:
        log.warning("trial process group %d still has processes after SIGKILL: %s", pgid, members)
    return members


def _kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _child_environment(limits: SandboxLimits, workdir: Path, cuda: str | None) -> dict[str, str]:
    """Build the child's environment from an allow-list, so no API key or token reaches it."""
    keep = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    threads = str(limits.threads)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env[name] = threads
    env["HOME"] = str(workdir / "home")
    env["TMPDIR"] = str(workdir / "tmp")
    env["MALLOC_ARENA_MAX"] = "2"  # glibc reserves 64 MiB of address space per arena otherwise
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONFAULTHANDLER"] = "1"  # a Python traceback in stderr.log on SIGSEGV or SIGABRT
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    if cuda is not None:
        env["CUDA_VISIBLE_DEVICES"] = cuda
    return env


def _tail(path: Path, max_chars: int) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_chars))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
