"""A Landlock ruleset that lets the trial process change files only beneath the trial directory.

The audit-hook guard checks the files that Python code opens. Native code, such as torch's C++
checkpoint writer, opens files without an audit event. Landlock (Linux 5.13 and later) makes
the kernel reject those writes too: once `restrict_writes` has run, this process and every
thread in it can create, write, truncate, rename, link or remove files only beneath the
allowed directories, and write only to the allowed device files. Reading stays allowed
everywhere, because trial code reads the data cache and the Python installation.

When the kernel's Landlock ABI is 4 or later, TCP bind and connect are rejected too, and
from ABI 6 on, signals and abstract unix sockets stay within the trial process.

The system call numbers 444 to 446 are the same on x86-64 and AArch64 (AArch64 uses the
generic table). On another machine, or a kernel without Landlock, `restrict_writes` returns
a reason and installs nothing.
"""

from __future__ import annotations

import ctypes
import errno
import glob
import os
import platform
from collections.abc import Iterable

SYSCALLS = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446)}  # create_ruleset, add_rule, restrict_self
PR_SET_NO_NEW_PRIVS = 38
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1

ACCESS_WRITE_FILE = 1 << 1
ACCESS_REMOVE_DIR = 1 << 4
ACCESS_REMOVE_FILE = 1 << 5
ACCESS_MAKE_CHAR = 1 << 6
ACCESS_MAKE_DIR = 1 << 7
ACCESS_MAKE_REG = 1 << 8
ACCESS_MAKE_SOCK = 1 << 9
ACCESS_MAKE_FIFO = 1 << 10
ACCESS_MAKE_BLOCK = 1 << 11
ACCESS_MAKE_SYM = 1 << 12
ACCESS_REFER = 1 << 13  # ABI 2
ACCESS_TRUNCATE = 1 << 14  # ABI 3
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1

WRITE_ACCESS_V1 = (
    ACCESS_WRITE_FILE | ACCESS_REMOVE_DIR | ACCESS_REMOVE_FILE | ACCESS_MAKE_CHAR | ACCESS_MAKE_DIR
    | ACCESS_MAKE_REG | ACCESS_MAKE_SOCK | ACCESS_MAKE_FIFO | ACCESS_MAKE_BLOCK | ACCESS_MAKE_SYM
)
# The rights a rule on a single file may hold.
FILE_ACCESS = ACCESS_WRITE_FILE | ACCESS_TRUNCATE

# Device files that torch, CUDA and the C library open for writing; shell-style patterns.
WRITABLE_DEVICE_FILES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/nvidia*", "/dev/dri/*")
# Directories beneath which everything stays writable: POSIX shared memory.
WRITABLE_SYSTEM_DIRS = ("/dev/shm",)


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # the kernel's struct landlock_path_beneath_attr is packed
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi_version() -> int:
    """The kernel's Landlock ABI version, or 0 when Landlock is missing or disabled."""
    numbers = SYSCALLS.get(platform.machine())
    if numbers is None:
        return 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return 0
    version = libc.syscall(ctypes.c_long(numbers[0]), None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    return max(int(version), 0)


def handled_access(abi: int) -> tuple[int, int, int]:
    """(file-system rights, network rights, scopes) the ruleset restricts at this ABI version."""
    fs = WRITE_ACCESS_V1
    if abi >= 2:
        fs |= ACCESS_REFER
    if abi >= 3:
        fs |= ACCESS_TRUNCATE
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    return fs, net, scoped


def restrict_writes(writable_dirs: Iterable[str]) -> tuple[int, str]:
    """Allow file changes only beneath `writable_dirs` (and the device files above) from now on.

    Returns (ABI version, "") when the ruleset is in force, or (ABI version, reason) when
    nothing was restricted. Applies to the calling process and its threads, for good.
    """
    abi = abi_version()
    if abi <= 0:
        return 0, f"Landlock is not available (machine {platform.machine()}, kernel {platform.release()})"
    libc = ctypes.CDLL(None, use_errno=True)
    create, add_rule, restrict = SYSCALLS[platform.machine()]
    fs, net, scoped = handled_access(abi)
    attr = _RulesetAttr(fs, net, scoped)
    size = 8  # struct landlock_ruleset_attr grew with handled_access_net (ABI 4) and scoped (ABI 6)
    if abi >= 4:
        size = 16
    if abi >= 6:
        size = ctypes.sizeof(_RulesetAttr)
    ruleset = libc.syscall(ctypes.c_long(create), ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return abi, f"landlock_create_ruleset failed: {os.strerror(ctypes.get_errno())}"
    try:
        rules = [(path, fs) for path in _existing(writable_dirs, *WRITABLE_SYSTEM_DIRS)]
        rules += [(path, FILE_ACCESS & fs) for pattern in WRITABLE_DEVICE_FILES for path in sorted(glob.glob(pattern))]
        for path, access in rules:
            error = _add_path_rule(libc, add_rule, ruleset, path, access)
            if error:
                return abi, error
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return abi, f"prctl(PR_SET_NO_NEW_PRIVS) failed: {os.strerror(ctypes.get_errno())}"
        if libc.syscall(ctypes.c_long(restrict), ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            return abi, f"landlock_restrict_self failed: {os.strerror(ctypes.get_errno())}"
    finally:
        os.close(ruleset)
    return abi, ""


def _existing(*groups: Iterable[str] | str) -> list[str]:
    paths: list[str] = []
    for group in groups:
        for path in [group] if isinstance(group, str) else group:
            if os.path.isdir(path) and path not in paths:
                paths.append(path)
    return paths


def _add_path_rule(libc: ctypes.CDLL, number: int, ruleset: int, path: str, access: int) -> str:
    """Grant `access` beneath `path`; return "" or why the rule was not added."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError as exc:
        return f"cannot open {path} for a Landlock rule: {exc.strerror}"
    try:
        rule = _PathBeneathAttr(access, fd)
        if libc.syscall(ctypes.c_long(number), ctypes.c_int(ruleset), ctypes.c_int(RULE_PATH_BENEATH), ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
            code = ctypes.get_errno()
            if code == errno.EINVAL and not os.path.isdir(path):
                return ""  # a device file that rejects the rule stays read-only, which is not fatal
            return f"landlock_add_rule for {path} failed: {os.strerror(code)}"
    finally:
        os.close(fd)
    return ""
