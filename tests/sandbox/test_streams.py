"""The parent's side of the child's pipes: capped logs and record validation."""

from __future__ import annotations

import json
from pathlib import Path

from nncaption.sandbox.streams import CappedLog, RecordReader, validate_record


def read_records(chunks: list[bytes], record_bytes: int = 1000, channel_bytes: int = 10_000) -> tuple[list, RecordReader]:
    accepted: list = []
    reader = RecordReader(record_bytes, channel_bytes, accepted.append)
    for chunk in chunks:
        reader.feed(chunk)
    reader.finish()
    return accepted, reader


def test_capped_log_keeps_head_and_tail(tmp_path: Path) -> None:
    log = CappedLog(tmp_path / "out.log", 100)
    for index in range(100):
        log.write(f"{index:04d}\n".encode())
    log.close()

    text = (tmp_path / "out.log").read_text(encoding="ascii")
    assert text.startswith("0000\n")
    assert text.endswith("0099\n")
    assert log.total_bytes == 500
    assert log.dropped_bytes == 400
    assert "400 bytes of output dropped here" in text


def test_capped_log_under_cap_is_verbatim(tmp_path: Path) -> None:
    log = CappedLog(tmp_path / "out.log", 1000)
    log.write(b"hello\n")
    log.write(b"world\n")
    log.close()

    assert (tmp_path / "out.log").read_bytes() == b"hello\nworld\n"
    assert log.dropped_bytes == 0


def test_reader_joins_split_lines() -> None:
    line = json.dumps({"type": "epoch", "epoch": 1}).encode() + b"\n"
    accepted, reader = read_records([line[:5], line[5:] + line])

    assert accepted == [{"type": "epoch", "epoch": 1}] * 2
    assert reader.invalid_records == 0


def test_reader_counts_invalid_lines() -> None:
    chunks = [b"not json\n", b"[1, 2]\n", b'{"no_type": 1}\n', b'{"type": 5}\n', b'{"type": "ok"}\n', b'{"type": "cut']
    accepted, reader = read_records(chunks)

    assert accepted == [{"type": "ok"}]
    assert reader.invalid_records == 5


def test_reader_drops_overlong_record() -> None:
    huge = json.dumps({"type": "x", "data": "a" * 5000}).encode() + b"\n"
    chunks = [huge[i : i + 700] for i in range(0, len(huge), 700)] + [b'{"type": "after"}\n']
    accepted, reader = read_records(chunks, channel_bytes=100_000)

    assert accepted == [{"type": "after"}]
    assert reader.invalid_records == 1


def test_reader_survives_deep_nesting() -> None:
    accepted, reader = read_records([b"[" * 100_000 + b"]" * 100_000 + b"\n"], record_bytes=10**6, channel_bytes=10**6)

    assert accepted == []
    assert reader.invalid_records == 1


def test_reader_stops_at_channel_cap() -> None:
    line = json.dumps({"type": "epoch"}).encode() + b"\n"
    accepted, reader = read_records([line] * 100, channel_bytes=len(line) * 10)

    assert len(accepted) == 10
    assert reader.overflowed


def test_validate_phase_record() -> None:
    assert validate_record({"type": "phase", "name": "train", "timeout_s": 30}) is None
    assert validate_record({"type": "phase", "name": "train"}) is None
    assert validate_record({"type": "phase"}) is not None
    assert validate_record({"type": "phase", "name": "train", "timeout_s": -1}) is not None
    assert validate_record({"type": "phase", "name": "train", "timeout_s": True}) is not None
    assert validate_record({"type": "phase", "name": "train", "timeout_s": float("inf")}) is not None


def test_validate_error_and_policy_records() -> None:
    assert validate_record({"type": "error", "error": "ValueError", "message": "bad"}) is None
    assert validate_record({"type": "error", "message": "bad"}) is not None
    assert validate_record({"type": "error", "error": "ValueError", "phase": 3}) is not None
    assert validate_record({"type": "policy", "action": "os.system"}) is None
    assert validate_record({"type": "policy"}) is not None
    assert validate_record({"type": "x" * 65}) is not None
