"""A seccomp filter that stops the trial process from creating processes or touching others.

The audit-hook guard rejects these actions first and reports them. This filter makes the
kernel reject them too, so they stay impossible when candidate code gets past the guard
(for example through `ctypes` memory writes). Rejected system calls fail with EPERM:

- fork, vfork, and clone without CLONE_THREAD, so threads stay allowed. clone3 fails with
  ENOSYS instead, because the filter cannot read its flags, and glibc then falls back to clone;
- execve and execveat;
- ptrace, process_vm_readv and process_vm_writev (reading the parent's memory);
- kill and tgkill aimed at any process but this one; tkill, rt_sigqueueinfo,
  rt_tgsigqueueinfo and pidfd_send_signal altogether;
- setrlimit, and prlimit64 with a new limit, so that even root cannot raise the rlimits
  (reading them with prlimit64, as glibc's getrlimit does, stays allowed).

Only x86-64 and AArch64 are covered; on other machines `install_filter` returns a reason
instead of installing anything.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform

PR_SET_NO_NEW_PRIVS = 38
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1  # apply the filter to every thread of the process, not only the caller
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
CLONE_THREAD = 0x00010000
X32_SYSCALL_BIT = 0x40000000

# BPF instruction classes and modes (linux/bpf_common.h).
LOAD_WORD = 0x20  # BPF_LD | BPF_W | BPF_ABS
JUMP_EQUAL = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
JUMP_GREATER_EQUAL = 0x35  # BPF_JMP | BPF_JGE | BPF_K
JUMP_SET = 0x45  # BPF_JMP | BPF_JSET | BPF_K
RETURN = 0x06  # BPF_RET | BPF_K

# Offsets in struct seccomp_data: nr, arch, then args[0..5] as 64-bit values (low half first).
OFFSET_NR = 0
OFFSET_ARCH = 4
OFFSET_ARG0_LOW = 16
OFFSET_ARG2_LOW = 32
OFFSET_ARG2_HIGH = 36

ARCHITECTURES = {
    # machine: (AUDIT_ARCH value, syscall numbers)
    "x86_64": (
        0xC000003E,
        {
            "clone": 56, "clone3": 435, "fork": 57, "vfork": 58, "execve": 59, "execveat": 322,
            "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "kill": 62, "tgkill": 234,
            "tkill": 200, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297, "pidfd_send_signal": 424,
            "setrlimit": 160, "prlimit64": 302, "seccomp": 317,
        },
    ),
    "aarch64": (
        0xC00000B7,
        {
            "clone": 220, "clone3": 435, "execve": 221, "execveat": 281,
            "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "kill": 129, "tgkill": 131,
            "tkill": 130, "rt_sigqueueinfo": 138, "rt_tgsigqueueinfo": 240, "pidfd_send_signal": 424,
            "setrlimit": 164, "prlimit64": 261, "seccomp": 277,
        },
    ),
}


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


def build_program(machine: str, own_pid: int) -> list[tuple[int, int, int, int]]:
    """Build the filter as (code, jump-if-true, jump-if-false, constant) BPF instructions."""
    audit_arch, numbers = ARCHITECTURES[machine]
    allow = (RETURN, 0, 0, SECCOMP_RET_ALLOW)
    deny = (RETURN, 0, 0, SECCOMP_RET_ERRNO | errno.EPERM)
    no_such_call = (RETURN, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS)

    denied_names = (
        "fork", "vfork", "execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev",
        "tkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_send_signal", "setrlimit",
    )
    denied = [numbers[name] for name in denied_names if name in numbers]
    program = [
        (LOAD_WORD, 0, 0, OFFSET_ARCH),
        (JUMP_EQUAL, 1, 0, audit_arch),
        deny,  # a system call made through another ABI (for example 32-bit int 0x80)
        (LOAD_WORD, 0, 0, OFFSET_NR),
        (JUMP_GREATER_EQUAL, 0, 1, X32_SYSCALL_BIT),
        deny,
    ]
    for number in denied:
        program += [(JUMP_EQUAL, 0, 1, number), deny]
    program += [(JUMP_EQUAL, 0, 1, numbers["clone3"]), no_such_call]

    # clone: allowed only for a new thread.
    program += [
        (JUMP_EQUAL, 0, 4, numbers["clone"]),
        (LOAD_WORD, 0, 0, OFFSET_ARG0_LOW),
        (JUMP_SET, 0, 1, CLONE_THREAD),
        allow,
        deny,
    ]
    # prlimit64: allowed only with a null new-limit pointer (args[2]), which only reads.
    program += [
        (JUMP_EQUAL, 0, 6, numbers["prlimit64"]),
        (LOAD_WORD, 0, 0, OFFSET_ARG2_LOW),
        (JUMP_EQUAL, 0, 2, 0),
        (LOAD_WORD, 0, 0, OFFSET_ARG2_HIGH),
        (JUMP_EQUAL, 1, 0, 0),
        deny,
        allow,
    ]
    # kill and tgkill: the first argument must be this process (tgkill's is the thread group).
    program += [
        (LOAD_WORD, 0, 0, OFFSET_NR),
        (JUMP_EQUAL, 1, 0, numbers["kill"]),
        (JUMP_EQUAL, 0, 3, numbers["tgkill"]),
        (LOAD_WORD, 0, 0, OFFSET_ARG0_LOW),
        (JUMP_EQUAL, 1, 0, own_pid),
        deny,
        allow,
    ]
    return program


def install_filter() -> str:
    """Install the filter on every thread of this process and its future threads.

    Returns "" when installed, otherwise the reason it was not.
    """
    machine = platform.machine()
    if machine not in ARCHITECTURES:
        return f"no seccomp filter for machine type {machine!r}"
    program = build_program(machine, os.getpid())
    instructions = (_SockFilter * len(program))(*[_SockFilter(*step) for step in program])
    fprog = _SockFprog(len(program), instructions)

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return f"prctl(PR_SET_NO_NEW_PRIVS) failed: {os.strerror(ctypes.get_errno())}"
    libc.syscall.restype = ctypes.c_long
    seccomp_number = ARCHITECTURES[machine][1]["seccomp"]
    status = libc.syscall(
        ctypes.c_long(seccomp_number),
        ctypes.c_ulong(SECCOMP_SET_MODE_FILTER),
        ctypes.c_ulong(SECCOMP_FILTER_FLAG_TSYNC),
        ctypes.byref(fprog),
    )
    if status != 0:
        return f"seccomp(SECCOMP_SET_MODE_FILTER) failed with {status}: {os.strerror(ctypes.get_errno())}"
    return ""
