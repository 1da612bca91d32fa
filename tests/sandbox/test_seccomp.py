"""The seccomp filter, installed in a throwaway interpreter (it cannot be removed again)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from nncaption.sandbox.seccomp import ARCHITECTURES

PROBE = textwrap.dedent(
    """
    import json, os, resource, signal, subprocess, threading

    from nncaption.sandbox.seccomp import install_filter

    def outcome(action):
        try:
            action()
            return "ok"
        except (OSError, ValueError) as exc:  # resource.setrlimit turns EPERM into ValueError
            return exc.__class__.__name__

    report = {"install": install_filter()}
    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join()
    report["thread"] = "ok"
    report["fork"] = outcome(os.fork)
    report["subprocess"] = outcome(lambda: subprocess.run(["true"]))
    report["system_status"] = os.system("true")
    report["kill_parent"] = outcome(lambda: os.kill(os.getppid(), 0))
    report["kill_self"] = outcome(lambda: os.kill(os.getpid(), 0))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    report["getrlimit"] = "ok"
    report["set_rlimit"] = outcome(lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard)))
    print(json.dumps(report))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="seccomp is a Linux feature")
def test_filter_blocks_processes_and_signals() -> None:
    import platform

    if platform.machine() not in ARCHITECTURES:
        pytest.skip(f"no seccomp filter for {platform.machine()}")
    completed = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.strip().splitlines()[-1])

    assert report["install"] == ""
    assert report["thread"] == "ok"
    assert report["fork"] == "PermissionError"
    assert report["subprocess"] == "PermissionError"
    assert report["system_status"] != 0
    assert report["kill_parent"] == "PermissionError"
    assert report["kill_self"] == "ok"
    assert report["getrlimit"] == "ok"
    assert report["set_rlimit"] == "ValueError"
