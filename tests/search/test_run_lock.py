"""One search at a time per run directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from nncaption.errors import StoreError
from nncaption.search.run_lock import LOCK_FILE, RunDirectoryInUse, RunLock


def test_second_lock_names_holder(tmp_path):
    first = RunLock(tmp_path)

    with pytest.raises(RunDirectoryInUse, match=f"PID {os.getpid()}"):
        RunLock(tmp_path)
    first.release()


def test_released_lock_can_be_taken_again(tmp_path):
    RunLock(tmp_path).release()

    again = RunLock(tmp_path)
    again.release()
    again.release()  # a second release does nothing
    assert (tmp_path / LOCK_FILE).is_file()


def test_unwritable_directory_is_store_error(tmp_path):
    with pytest.raises(StoreError, match="cannot open the lock file"):
        RunLock(tmp_path / "missing")


def test_killed_holder_leaves_no_stale_lock(tmp_path):
    holder = textwrap.dedent(f"""
        import sys, time
        from nncaption.search.run_lock import RunLock
        lock = RunLock({str(tmp_path)!r})
        print("locked", flush=True)
        time.sleep(60)
    """)
    process = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "locked"
        with pytest.raises(RunDirectoryInUse, match=f"PID {process.pid}"):
            RunLock(tmp_path)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    deadline = time.monotonic() + 5
    while True:
        try:
            RunLock(tmp_path).release()
            break
        except RunDirectoryInUse:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_open_run_refuses_busy_directory(tmp_path, data_cache):
    from nncaption.config import load_config
    from nncaption.search.loop import open_run

    from .helpers import TINY_DATA

    config = load_config(None, TINY_DATA + [f"data.cache_dir={data_cache}", "search.report=false"])
    run = open_run(tmp_path / "run", config)
    try:
        with pytest.raises(RunDirectoryInUse, match="in use by another nncaption search"):
            open_run(tmp_path / "run", config)
    finally:
        run.close()
    open_run(tmp_path / "run", config).close()
