"""Resource limits of a trial process: the settings (parent side) and their application (child side).

The parent turns a `SandboxLimits` into concrete numbers with `resolve_rlimits`; the child
applies them with `apply_rlimits` before any candidate code is imported. Soft and hard limits
are set to the same value, except for CPU time, so candidate code can lower a limit but not
raise it. Root could raise a hard limit, so the seccomp filter also rejects setrlimit.
"""

from __future__ import annotations

import functools
import os
import resource
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GIB = 1024**3
MIB = 1024**2

# Share of the available memory (measured once, at the first trial) that all trial processes
# together may use. The rest stays for the parent, other programs, the page cache and the kernel.
MEMORY_SHARE = 0.8
MIN_MEMORY_BYTES = 2 * GIB  # a fresh interpreter with torch imported maps about 1 GiB
CPU_SECONDS_MARGIN = 30.0  # added to the derived CPU-time limit so the wall clock fires first
EXTRA_TASKS = 256  # RLIMIT_NPROC headroom over the user's current tasks (threads count too)

MEMORY_KINDS = ("auto", "address_space", "data", "off")


@dataclass
class SandboxLimits:
    """Limits of one trial process. `None` fields are derived from the others and the machine."""

    wall_seconds: float = 600.0  # wall-clock limit of the whole trial
    threads: int = 1  # torch, OpenMP and BLAS threads in the child
    grace_seconds: float = 3.0  # between SIGTERM and SIGKILL
    worker_slots: int = 1  # trials that run at the same time; divides the default memory limit
    memory_bytes: int | None = None  # None: MEMORY_SHARE of the available memory / worker_slots
    # The rlimit that enforces memory_bytes. "address_space" (RLIMIT_AS) also counts untouched
    # mappings, and CUDA reserves far more address space than it uses, so "auto" picks
    # "data" (RLIMIT_DATA, private writable memory) when a GPU is visible to the child.
    # NOTE: RLIMIT_DATA with CUDA is untested here (no GPU on the development machine).
    memory_kind: str = "auto"
    cpu_seconds: float | None = None  # None: wall_seconds * (threads + 1) + CPU_SECONDS_MARGIN
    file_bytes: int = 4 * GIB  # largest file the child may write (RLIMIT_FSIZE)
    max_processes: int | None = None  # RLIMIT_NPROC; None: the user's current tasks + EXTRA_TASKS
    output_bytes: int = 1 * MIB  # stdout and stderr each: bytes kept on disk (head and tail)
    record_bytes: int = 4 * MIB  # longest JSON record accepted from the child
    channel_bytes: int = 256 * MIB  # all records of one trial together
    phase_seconds: dict[str, float] = field(default_factory=dict)  # default timeout per phase name
    network_namespace: bool = True  # enter a new, empty network namespace where the kernel allows
    guard: bool = True  # install the audit-hook guard before the entry module is imported
    seccomp: bool = True  # kernel filter against new processes, exec, ptrace and signals to others
    landlock: bool = True  # kernel rules: file changes only beneath the trial directory and writable_paths
    preload: tuple[str, ...] = ("numpy", "torch")  # imported after the rlimits, before the guard
    cuda_visible_devices: str | None = None  # None: pass the parent's value through, if set
    writable_paths: tuple[str, ...] = ()  # writable besides the trial directory

    def __post_init__(self) -> None:
        if self.memory_kind not in MEMORY_KINDS:
            raise ValueError(f"memory_kind must be one of {MEMORY_KINDS}, got {self.memory_kind!r}")
        if self.wall_seconds <= 0 or self.grace_seconds < 0:
            raise ValueError(
                f"wall_seconds must be > 0 and grace_seconds >= 0, got {self.wall_seconds} and {self.grace_seconds}"
            )
        if self.threads < 1 or self.worker_slots < 1:
            raise ValueError(f"threads and worker_slots must be >= 1, got {self.threads} and {self.worker_slots}")


def machine_memory_bytes() -> int:
    """Physical memory, or the cgroup v2 memory limit of this process where that is lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        text = Path("/sys/fs/cgroup/memory.max").read_text(encoding="ascii").strip()
    except OSError:
        return total
    return min(total, int(text)) if text.isdigit() else total


def available_memory_bytes() -> int | None:
    """Memory that new processes can use now without swapping, or None where the kernel does not report it.

    This is MemAvailable of /proc/meminfo, lowered to the room left under a cgroup v2 limit.
    """
    try:
        meminfo = Path("/proc/meminfo").read_text(encoding="ascii")
    except OSError:
        return None
    available = next((int(line.split()[1]) * 1024 for line in meminfo.splitlines() if line.startswith("MemAvailable:")), None)
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text(encoding="ascii").strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text(encoding="ascii").strip()
    except OSError:
        return available
    if limit.isdigit() and used.isdigit():
        room = max(0, int(limit) - int(used))
        return room if available is None else min(available, room)
    return available


@functools.cache
def memory_at_start() -> int:
    """Memory the trials of this process share: the available memory at the first call, cached.

    Measured once, so that trials running side by side do not shrink each other's limits.
    """
    total = machine_memory_bytes()
    available = available_memory_bytes()
    return total if available is None else min(total, available)


def default_memory_bytes(worker_slots: int) -> int:
    """Default memory limit of one trial: a share of the memory available at start, per worker slot."""
    share = int(MEMORY_SHARE * memory_at_start() / max(1, worker_slots))
    return max(MIN_MEMORY_BYTES, share)


def resolve_memory_kind(limits: SandboxLimits, cuda_visible_devices: str | None) -> str:
    if limits.memory_kind != "auto":
        return limits.memory_kind
    gpu_visible = bool(cuda_visible_devices) and cuda_visible_devices not in ("-1", "none")
    return "data" if gpu_visible else "address_space"


def count_user_tasks(uid: int) -> int:
    """Tasks (processes and threads) of `uid` now: the count RLIMIT_NPROC compares against."""
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid == uid:
                count += len(os.listdir(f"/proc/{entry.name}/task"))
        except OSError:
            continue  # the process ended while we looked
    return count


def resolve_rlimits(limits: SandboxLimits, cuda_visible_devices: str | None) -> dict[str, Any]:
    """Concrete rlimit values for the child, as a JSON-ready dict of name -> [soft, hard]."""
    memory = limits.memory_bytes or default_memory_bytes(limits.worker_slots)
    cpu = limits.cpu_seconds or limits.wall_seconds * (limits.threads + 1) + CPU_SECONDS_MARGIN
    tasks = limits.max_processes or count_user_tasks(os.getuid()) + EXTRA_TASKS
    rlimits: dict[str, Any] = {
        "RLIMIT_CPU": [int(cpu), int(cpu) + 5],  # SIGXCPU at the soft limit, SIGKILL at the hard one
        "RLIMIT_FSIZE": [limits.file_bytes, limits.file_bytes],
        "RLIMIT_NPROC": [tasks, tasks],
        "RLIMIT_CORE": [0, 0],
    }
    kind = resolve_memory_kind(limits, cuda_visible_devices)
    if kind == "address_space":
        rlimits["RLIMIT_AS"] = [memory, memory]
    elif kind == "data":
        rlimits["RLIMIT_DATA"] = [memory, memory]
    return rlimits


def apply_rlimits(rlimits: dict[str, Any]) -> None:
    """Set each rlimit in this process, never above an existing hard limit."""
    for name, (soft, hard) in rlimits.items():
        which = getattr(resource, name)
        _, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY:
            hard = min(hard, current_hard)
            soft = min(soft, hard)
        resource.setrlimit(which, (soft, hard))
