"""Runtime guard of the trial process: a network namespace and a Python audit hook.

The audit hook (PEP 578) receives events for process creation, sockets, ctypes, file opens and file-system
changes made through Python. On a forbidden action it sends a `policy` record to the parent
and ends the process at once with POLICY_EXIT_CODE, so candidate code cannot catch the
rejection and carry on. Audit hooks are not a security boundary: code that corrupts the
interpreter's memory can get past them. The network namespace, the Landlock write rules, the
seccomp filter and the rlimits are enforced by the kernel and still apply then.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

POLICY_EXIT_CODE = 86
CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000

PROCESS_EVENTS = frozenset(
    {"os.system", "os.exec", "os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "subprocess.Popen", "pty.spawn"}
)
NETWORK_EVENTS = frozenset(
    {
        "socket.connect",
        "socket.bind",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "socket.getnameinfo",
    }
)
# Loading a native library or reading raw memory through ctypes.
CTYPES_EVENTS = frozenset({"ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.cdata", "ctypes.string_at", "ctypes.wstring_at"})
# File-system changes: the event's arguments at these positions are paths that must be writable.
PATH_EVENTS = {
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.mkdir": (0,),
    "os.rename": (0, 1),
    "os.link": (0, 1),
    "os.symlink": (1,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.truncate": (0,),
    "os.utime": (0,),
    "os.mkfifo": (0,),
    "os.mknod": (0,),
    "shutil.rmtree": (0,),
}
INET_FAMILIES = frozenset({socket.AF_INET, socket.AF_INET6, getattr(socket, "AF_PACKET", -1), getattr(socket, "AF_NETLINK", -1)})
REIMPORT_REJECTED = frozenset({"_posixsubprocess"})
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def enter_network_namespace() -> str:
    """Move this process into a new network namespace with no interfaces up.

    Returns "net" (as root), "user+net" (an unprivileged user namespace) or "" when the
    kernel rejects both. In the last case only the audit hook rejects network calls.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) == 0:
        return "net"
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        return ""
    # Map our own ids into the new user namespace so files keep their owner.
    # NOTE: this branch runs only for non-root users and is not covered by the tests (they run as root).
    try:
        with open("/proc/self/setgroups", "w") as handle:
            handle.write("deny")
        with open("/proc/self/uid_map", "w") as handle:
            handle.write(f"{uid} {uid} 1")
        with open("/proc/self/gid_map", "w") as handle:
            handle.write(f"{gid} {gid} 1")
    except OSError:
        pass  # unmapped ids still work for our own files; only the ids shown change
    return "user+net"


class Guard:
    """The audit hook's policy: what the trial process may do once candidate code can run."""

    def __init__(
        self,
        workdir: str,
        writable_paths: Iterable[str],
        report: Callable[[dict[str, Any]], None],
        library_dirs: Iterable[str],
    ) -> None:
        self._writable_roots = tuple(os.path.realpath(p) for p in (workdir, *writable_paths))
        self._writable_files = frozenset({"/dev/null"})
        self._library_dirs = tuple(os.path.realpath(p) for p in library_dirs)
        self._report = report
        self._pid = os.getpid()
        self._busy = threading.local()

    def install(self) -> None:
        _wrap_fork_exec(self)
        _wrap_native_writer(self)
        sys.addaudithook(self._hook)

    def check_write(self, path: Any) -> str | None:
        """Why writing to `path` is rejected, or None; for writers that raise no audit event."""
        if not isinstance(path, (str, bytes, os.PathLike)):
            return None  # a buffer or an open file object: its own open was audited
        resolved = os.path.realpath(os.fsdecode(path))
        if self._writable(resolved):
            return None
        return f"writing outside the trial directory is not allowed: {resolved}"

    def reject(self, action: str, detail: str) -> None:
        """Report the rejected action to the parent and end the process; never returns."""
        try:
            self._report({"type": "policy", "action": action, "detail": detail[:500]})
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(POLICY_EXIT_CODE)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if getattr(self._busy, "active", False):
            return  # events raised by the guard's own checks and reports
        self._busy.active = True
        try:
            reason = self._check(event, args)
        finally:
            self._busy.active = False
        if reason is not None:
            self.reject(event, reason)

    def _check(self, event: str, args: tuple[Any, ...]) -> str | None:
        """Return why `event` is rejected, or None to allow it."""
        if event == "open":
            return self._check_open(args)
        if event in PROCESS_EVENTS:
            return f"starting a process is not allowed: {_preview(args)}"
        if event in NETWORK_EVENTS:
            return f"network access is not allowed: {_preview(args)}"
        if event == "socket.__new__" and len(args) > 1 and args[1] in INET_FAMILIES:
            return f"creating a network socket is not allowed (family {args[1]})"
        if event in CTYPES_EVENTS:
            return f"native calls through ctypes are not allowed: {_preview(args)}"
        if event == "ctypes.dlopen":
            return self._check_dlopen(args[0])
        if event in PATH_EVENTS:
            return self._check_paths(event, args)
        if event in ("os.kill", "os.killpg"):
            return self._check_kill(event, args)
        if event == "resource.setrlimit":
            return "changing resource limits is not allowed"
        if event == "import" and args[0] in REIMPORT_REJECTED:
            return f"importing {args[0]} again is not allowed"
        return None

    def _check_open(self, args: tuple[Any, ...]) -> str | None:
        path, _mode, flags = args
        if path is None or isinstance(path, int):
            return None  # an already open file descriptor
        resolved = os.path.realpath(os.fsdecode(path))
        if _is_other_process(resolved, self._pid):
            return f"reading another process's /proc entry is not allowed: {resolved}"
        if flags is not None and flags & WRITE_FLAGS and not self._writable(resolved):
            return f"writing outside the trial directory is not allowed: {resolved}"
        return None

    def _check_dlopen(self, name: Any) -> str | None:
        if name is None:
            return None  # the interpreter itself, opened by `import ctypes`
        # NOTE: a relative name is resolved by the dynamic loader's search path, not the cwd.
        resolved = os.path.realpath(os.fsdecode(name))
        if os.path.isabs(os.fsdecode(name)) and any(_inside(resolved, d) for d in self._library_dirs):
            return None
        return f"loading a native library through ctypes is not allowed: {os.fsdecode(name)}"

    def _check_paths(self, event: str, args: tuple[Any, ...]) -> str | None:
        for index in PATH_EVENTS[event]:
            path = args[index] if index < len(args) else None
            if isinstance(path, (str, bytes, os.PathLike)):
                resolved = os.path.realpath(os.fsdecode(path))
                if not self._writable(resolved):
                    return f"changing files outside the trial directory is not allowed: {resolved}"
        return None

    def _check_kill(self, event: str, args: tuple[Any, ...]) -> str | None:
        target = args[0]
        own = self._pid if event == "os.kill" else os.getpgid(0)
        if target in (own, 0):
            return None
        return f"signalling process {target} is not allowed"

    def _writable(self, resolved: str) -> bool:
        if resolved in self._writable_files:
            return True
        return any(_inside(resolved, root) for root in self._writable_roots)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _is_other_process(path: str, own_pid: int) -> bool:
    """True for /proc/<pid>/... of any pid but our own (its environ and memory hold secrets)."""
    parts = path.split(os.sep)
    if len(parts) < 3 or parts[1] != "proc" or not parts[2].isdigit():
        return False
    pid = int(parts[2])
    if pid == own_pid:
        return False
    # Our own threads have /proc/<tid> entries too.
    return not os.path.exists(f"/proc/self/task/{pid}")


def _preview(args: tuple[Any, ...]) -> str:
    return repr(args)[:300]


def _wrap_fork_exec(guard: Guard) -> None:
    """Route `_posixsubprocess.fork_exec`, which raises no audit event, through the guard.

    `subprocess` keeps its own reference to the function, so that one is replaced too.
    """
    try:
        import _posixsubprocess
    except ImportError:
        return

    def rejected_fork_exec(*args: Any, **kwargs: Any) -> Any:
        guard.reject("_posixsubprocess.fork_exec", f"starting a process is not allowed: {_preview(args[:1])}")
        raise OSError(errno.EPERM, "rejected by the trial sandbox")  # not reached: reject() exits

    _posixsubprocess.fork_exec = rejected_fork_exec  # type: ignore[attr-defined]
    subprocess_module = sys.modules.get("subprocess")
    if subprocess_module is not None and hasattr(subprocess_module, "_fork_exec"):
        subprocess_module._fork_exec = rejected_fork_exec


def _wrap_native_writer(guard: Guard) -> None:
    """Check the path given to torch's C++ file writer (`torch.save` to a file name) first.

    That writer opens the file natively, without an audit event. The Landlock ruleset makes
    the kernel refuse such writes anyway; this wrapper turns them into a `policy` record
    that names the path. Only an already imported torch is wrapped.
    """
    torch_c = sys.modules.get("torch._C")
    original = getattr(torch_c, "PyTorchFileWriter", None)
    if original is None:
        return

    def checked_writer(target: Any, *args: Any, **kwargs: Any) -> Any:
        reason = guard.check_write(target)
        if reason is not None:
            guard.reject("torch.save", reason)
        return original(target, *args, **kwargs)

    torch_c.PyTorchFileWriter = checked_writer  # type: ignore[union-attr]
