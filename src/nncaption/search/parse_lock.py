"""A process-wide lock around `ast.parse`, installed before the search starts its threads.

CPython 3.11 keeps the recursion counter of the AST-to-Python-objects conversion in
interpreter-wide state. When a garbage-collector finalizer runs Python code in the middle of
that conversion, another thread can take the GIL and parse as well, and the first parse then
fails with `SystemError: AST constructor recursion depth mismatch`. The search parses on its
generator threads (zoo files, prompts, repairs) and on the driver thread (validation,
structural hash) at the same time, so every `ast.parse` call of the process is serialised.
"""

from __future__ import annotations

import ast
import threading
from typing import Any

# NOTE: the failure was reproduced on CPython 3.11.7 with three threads parsing while finalizers run.
# Later versions were not tested, so the lock is installed on every version.
_LOCK = threading.RLock()
_UNLOCKED_PARSE = ast.parse


def _locked_parse(*args: Any, **kwargs: Any) -> Any:
    with _LOCK:
        return _UNLOCKED_PARSE(*args, **kwargs)


def install_parse_lock() -> None:
    """Replace `ast.parse` with a version that holds one process-wide lock; calling it again changes nothing."""
    if ast.parse is not _locked_parse:
        ast.parse = _locked_parse  # type: ignore[assignment]
