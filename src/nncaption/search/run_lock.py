"""One search at a time per run directory: an exclusive lock on `<run_dir>/lock`.

Two searches on one run directory would train the same candidates, delete each other's
trial folders and store each other's failures. The lock is an advisory `flock` on a file
that stays open while the search runs. The kernel drops it when the process ends in any
way, SIGKILL included, so a killed search never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path

from nncaption.errors import StoreError

LOCK_FILE = "lock"


class RunDirectoryInUse(StoreError):
    """Raised when another process has the run directory's lock."""


class RunLock:
    """The held lock of one run directory; `release` (or the end of the process) frees it."""

    def __init__(self, run_dir: Path) -> None:
        self._fd: int | None = None
        path = Path(run_dir) / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot open the lock file {path}: {exc.strerror}; choose a writable --run-dir") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode("utf-8", errors="replace").strip() or "holder unknown"
            os.close(fd)
            raise RunDirectoryInUse(
                f"the run directory {run_dir} is in use by another nncaption search ({holder}); "
                "wait for it to end, or choose another --run-dir"
            ) from None
        os.ftruncate(fd, 0)
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
        os.pwrite(fd, f"PID {os.getpid()} on {socket.gethostname()}, started {started}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Free the lock; calling it again does nothing."""
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = None

    def __del__(self) -> None:
        self.release()
