import os
import subprocess
import sys

import pytest

from nncaption.cli.main import main
from nncaption.config import DataConfig
from nncaption.data import synthetic as synthetic_module
from nncaption.data.prepare import load_source, synthetic_root
from nncaption.data.synthetic import write_synthetic
from nncaption.errors import DataError


def _siblings(folder):
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(folder.name))


def _interrupt_after(monkeypatch, images):
    """Make the image writer raise KeyboardInterrupt (Ctrl-C) when it reaches image `images + 1`."""
    real = synthetic_module.render_scene
    calls = []

    def render(*args):
        calls.append(1)
        if len(calls) > images:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(synthetic_module, "render_scene", render)


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    out = tmp_path / "set"
    _interrupt_after(monkeypatch, 5)
    with pytest.raises(KeyboardInterrupt):
        write_synthetic(out, images=20, size=24)
    assert _siblings(out) == []

    monkeypatch.undo()
    assert write_synthetic(out, images=20, size=24) == {"train": 16, "val": 2, "test": 2}
    assert _siblings(out) == ["set"]


def test_interrupted_replace_keeps_earlier_set(tmp_path, monkeypatch):
    out = tmp_path / "set"
    write_synthetic(out, images=20, size=24)
    _interrupt_after(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        write_synthetic(out, images=10, size=24)
    assert _siblings(out) == ["set"]
    assert len(list((out / "train2017").iterdir())) == 16


def test_killed_write_cleaned_by_next_prepare(tmp_path):
    config = DataConfig(cache_dir=str(tmp_path / "cache"), synthetic_images=20, synthetic_size=24, image_size=8)
    root = synthetic_root(config)
    # A write killed mid-way (SIGKILL, OOM) runs no cleanup and leaves its temporary folder.
    script = ("import os\nfrom nncaption.data import synthetic\n"
              "synthetic._write_json = lambda *a: os._exit(9)\n"
              f"synthetic.write_synthetic({str(root)!r}, 20, 24)\n")
    assert subprocess.run([sys.executable, "-c", script], timeout=120).returncode == 9
    leftovers = _siblings(root)
    assert len(leftovers) == 1
    assert ".building-" in leftovers[0]

    dataset = load_source(config)
    assert len(dataset.splits["train"]) == 16
    assert _siblings(root) == [root.name]


def test_partial_set_in_cache_rewritten(tmp_path):
    config = DataConfig(cache_dir=str(tmp_path / "cache"), synthetic_images=20, synthetic_size=24)
    root = synthetic_root(config)
    # The layout an interrupted write of an older version left under the final name.
    (root / "train2017").mkdir(parents=True)
    (root / "annotations").mkdir()
    (root / "train2017" / "000000000001.png").write_bytes(b"partial")

    dataset = load_source(config)
    assert len(dataset.splits["train"]) == 16
    assert (root / "dataset_synthetic.json").is_file()


def test_stale_folder_of_live_process_kept(tmp_path):
    out = tmp_path / "set"
    live = tmp_path / f"set.building-{os.getppid()}"
    live.mkdir()
    write_synthetic(out, images=10, size=24)
    assert live.is_dir()


@pytest.mark.parametrize("entry", ["notes.txt", "train2017/photo.jpg", "annotations/x.json"])
def test_command_rejects_non_empty_folder(tmp_path, capsys, entry):
    out = tmp_path / "mine"
    (out / entry).parent.mkdir(parents=True, exist_ok=True)
    (out / entry).write_bytes(b"not ours")
    assert main(["data", "synthetic", "--out", str(out), "--images", "10", "--size", "24"]) != 0
    err = capsys.readouterr().err
    assert "no dataset_synthetic.json" in err
    assert "choose an empty or new --out folder" in err
    assert (out / entry).read_bytes() == b"not ours"
    assert _siblings(out) == ["mine"]


def test_replace_rejects_extra_files(tmp_path):
    out = tmp_path / "set"
    write_synthetic(out, images=10, size=24)
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="also notes.txt"):
        write_synthetic(out, images=10, size=24)
    assert (out / "notes.txt").read_text() == "keep me"


def test_write_into_empty_folder(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    write_synthetic(out, images=10, size=24)
    assert (out / "dataset_synthetic.json").is_file()
    assert _siblings(out) == ["empty"]


def test_leftover_with_own_pid_replaced(tmp_path):
    out = tmp_path / "set"
    # A killed earlier process with the same PID, as when a container restarts the program.
    leftover = tmp_path / f"set.building-{os.getpid()}"
    (leftover / "train2017").mkdir(parents=True)
    (leftover / "train2017" / "000000000001.png").write_bytes(b"partial")
    write_synthetic(out, images=10, size=24)
    assert _siblings(out) == ["set"]
    assert (out / "dataset_synthetic.json").is_file()
