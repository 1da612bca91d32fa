"""Parent side of the child's three pipes: capped output logs and the validated record channel."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

MAX_NAME_CHARS = 64  # record types and phase names


class CappedLog:
    """Write a child's output stream to a file, keeping its first and last bytes up to a cap.

    Output past the cap is dropped from the middle, and a marker line in the file states how
    many bytes were dropped there.
    """

    def __init__(self, path: Path, cap_bytes: int) -> None:
        self._file: BinaryIO = open(path, "wb")
        self._head_left = cap_bytes // 2
        self._tail_cap = cap_bytes - cap_bytes // 2
        self._tail = bytearray()
        self.total_bytes = 0
        self.dropped_bytes = 0

    def write(self, chunk: bytes) -> None:
        self.total_bytes += len(chunk)
        if self._head_left > 0:
            head = chunk[: self._head_left]
            self._file.write(head)
            self._head_left -= len(head)
            chunk = chunk[len(head) :]
        if not chunk:
            return
        self._tail += chunk
        excess = len(self._tail) - self._tail_cap
        if excess > 0:
            del self._tail[:excess]
            self.dropped_bytes += excess

    def close(self) -> None:
        if self._file.closed:
            return
        if self.dropped_bytes:
            marker = f"\n[nncaption sandbox: {self.dropped_bytes} bytes of output dropped here]\n"
            self._file.write(marker.encode("ascii"))
        self._file.write(self._tail)
        self._file.close()


class RecordReader:
    """Split the channel into JSON lines, validate each record and pass the valid ones on."""

    def __init__(
        self,
        record_bytes: int,
        channel_bytes: int,
        accept: Callable[[dict[str, Any]], None],
    ) -> None:
        self._record_bytes = record_bytes
        self._channel_bytes = channel_bytes
        self._accept = accept
        self._buffer = bytearray()
        self._skipping = False  # inside a line that is already too long
        self.total_bytes = 0
        self.invalid_records = 0
        self.overflowed = False

    def feed(self, chunk: bytes) -> None:
        self.total_bytes += len(chunk)
        if self.total_bytes > self._channel_bytes:
            self.overflowed = True
            return
        self._buffer += chunk
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                break
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if self._skipping:
                self._skipping = False  # the end of an over-long line, already counted
                continue
            self._take(line)
        if len(self._buffer) > self._record_bytes:
            if not self._skipping:
                self.invalid_records += 1
            self._buffer.clear()
            self._skipping = True

    def finish(self) -> None:
        """Count a last line without a newline as invalid: the child died while writing it."""
        if self._buffer.strip() and not self._skipping:
            self.invalid_records += 1
        self._buffer.clear()

    def _take(self, line: bytes) -> None:
        if len(line) > self._record_bytes:
            self.invalid_records += 1
            return
        try:
            record = json.loads(line)
        except (UnicodeDecodeError, ValueError, RecursionError):
            self.invalid_records += 1
            return
        if validate_record(record) is not None:
            self.invalid_records += 1
            return
        self._accept(record)


def validate_record(record: Any) -> str | None:
    """Return why `record` is not a valid channel record, or None when it is."""
    if not isinstance(record, dict):
        return f"expected a JSON object, found {type(record).__name__}"
    kind = record.get("type")
    if not _is_name(kind):
        return f"expected a string 'type' of 1..{MAX_NAME_CHARS} characters, found {kind!r}"
    if kind == "phase":
        if not _is_name(record.get("name")):
            return "a phase record needs a string 'name'"
        timeout = record.get("timeout_s")
        if timeout is not None and not _is_positive_number(timeout):
            return f"a phase record's 'timeout_s' must be a positive number, found {timeout!r}"
    if kind == "error":
        if not isinstance(record.get("error"), str):
            return "an error record needs a string 'error'"
        for key in ("message", "traceback", "phase", "status"):
            if key in record and not isinstance(record[key], str):
                return f"an error record's {key!r} must be a string"
    if kind == "policy" and not isinstance(record.get("action"), str):
        return "a policy record needs a string 'action'"
    return None


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_NAME_CHARS


def _is_positive_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) and value > 0
