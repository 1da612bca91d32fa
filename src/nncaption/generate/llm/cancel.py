"""Ending LLM requests early when the user presses Ctrl-C.

An HTTP request to a hung server blocks its thread until `generator.request_timeout_s`. The
search's generator threads wait on such requests, and the search cannot exit before they
return. So the openai backend sends each request from a daemon thread and waits for it in
short steps, watching `CANCELLED`. `watch_interrupts` chains a SIGINT handler that sets the
event and then runs the handler that was there before (normally the one raising
KeyboardInterrupt), so the first Ctrl-C ends the waits as well as the main thread's work.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from nncaption.errors import NncaptionError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Set by the first SIGINT (or by `cancel_requests`); waiting requests then give up.
CANCELLED = threading.Event()
# How often a waiting thread looks at CANCELLED, in seconds.
_POLL_S = 0.1
_installed = False
_install_lock = threading.Lock()


class RequestCancelled(NncaptionError):
    """An LLM request was abandoned because the run is being interrupted."""


def cancel_requests() -> None:
    """Make every waiting and future LLM request give up; used on interrupt."""
    CANCELLED.set()


def raise_if_cancelled() -> None:
    if CANCELLED.is_set():
        raise RequestCancelled("LLM request abandoned: the run was interrupted")


def watch_interrupts() -> None:
    """Chain a SIGINT handler that calls `cancel_requests`; a no-op off the main thread or when SIGINT is ignored."""
    global _installed
    with _install_lock:
        if _installed or threading.current_thread() is not threading.main_thread():
            return
        previous = signal.getsignal(signal.SIGINT)
        if previous in (signal.SIG_IGN, None):
            return

        def on_interrupt(signum: int, frame: Any) -> None:
            cancel_requests()
            if callable(previous):
                previous(signum, frame)
            else:  # SIG_DFL: behave as Python's own handler does
                raise KeyboardInterrupt

        signal.signal(signal.SIGINT, on_interrupt)
        _installed = True


def wait_cancellable(work: Callable[[], T], name: str) -> T:
    """Run `work` in a daemon thread and return its result, or raise RequestCancelled on interrupt.

    A cancelled request's thread is left to finish on its own; being a daemon it does not keep
    the process alive.
    """
    raise_if_cancelled()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed over to the waiting thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(_POLL_S)
        raise_if_cancelled()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def sleep_cancellable(seconds: float) -> None:
    """Sleep, but raise RequestCancelled as soon as the run is interrupted."""
    if CANCELLED.wait(seconds):
        raise_if_cancelled()
