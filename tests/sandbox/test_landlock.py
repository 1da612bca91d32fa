"""The Landlock write rules, in a bare interpreter: writes only beneath the allowed directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nncaption.sandbox.landlock import abi_version

pytestmark = pytest.mark.skipif(abi_version() == 0, reason="the kernel has no Landlock")

PROBE = r"""
import json, os, sys
from nncaption.sandbox.landlock import restrict_writes
inside, outside = sys.argv[1], sys.argv[2]
abi, error = restrict_writes([inside])
out = {"abi": abi, "error": error}
def attempt(name, action):
    try:
        action()
        out[name] = "ok"
    except OSError as exc:
        out[name] = exc.errno
attempt("write_inside", lambda: open(os.path.join(inside, "a.txt"), "w").write("x"))
attempt("mkdir_inside", lambda: os.mkdir(os.path.join(inside, "sub")))
attempt("rename_inside", lambda: os.rename(os.path.join(inside, "a.txt"), os.path.join(inside, "sub", "b.txt")))
attempt("write_outside", lambda: open(os.path.join(outside, "new.txt"), "w").write("x"))
attempt("append_outside", lambda: open(os.path.join(outside, "existing.txt"), "a").write("x"))
attempt("remove_outside", lambda: os.remove(os.path.join(outside, "existing.txt")))
attempt("move_out", lambda: os.rename(os.path.join(inside, "sub", "b.txt"), os.path.join(outside, "b.txt")))
attempt("read_outside", lambda: open(os.path.join(outside, "existing.txt")).read())
attempt("dev_null", lambda: open("/dev/null", "w").write("x"))
print(json.dumps(out))
"""


def test_writes_confined_to_allowed_directory(tmp_path: Path) -> None:
    inside, outside = tmp_path / "trial", tmp_path / "outside"
    inside.mkdir()
    outside.mkdir()
    (outside / "existing.txt").write_text("keep", encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, str(inside), str(outside)], capture_output=True, text=True, timeout=60, check=True
    )
    out = json.loads(completed.stdout)

    assert out["error"] == ""
    assert out["abi"] >= 1
    for name in ("write_inside", "mkdir_inside", "rename_inside", "read_outside", "dev_null"):
        assert out[name] == "ok", (name, out)
    for name in ("write_outside", "append_outside", "remove_outside", "move_out"):
        assert out[name] in (1, 13, 18), (name, out)  # EPERM, EACCES, or EXDEV for a move
    assert (outside / "existing.txt").read_text(encoding="utf-8") == "keep"
    assert sorted(p.name for p in outside.iterdir()) == ["existing.txt"]
    assert (inside / "sub" / "b.txt").exists()
