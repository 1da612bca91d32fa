"""A wall-clock limit for a block of candidate code inside the trial process."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def time_limit(seconds: float, make_error: Callable[[], BaseException]) -> Iterator[None]:
    """Raise `make_error()` in the block when it runs longer than `seconds`.

    Uses SIGALRM, so the limit applies only in the main thread on POSIX; elsewhere the
    block runs without a limit.
    """
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise make_error()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
