import os
import subprocess
import sys

import pytest

from nncaption.cli.main import main


def test_unknown_option_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["search", "--no-such-option"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --no-such-option" in err
    assert "Traceback" not in err


def test_unknown_config_key_exits_2(tmp_path, capsys):
    assert main(["search", "--run-dir", str(tmp_path / "r"), "--set", "trial.epoch=1"]) == 2
    assert "unknown config key 'trial.epoch'" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_unwritable_output_directory(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    assert main(["data", "synthetic", "--out", str(locked / "set"), "--images", "20"]) == 1
    assert "cannot create" in capsys.readouterr().err


def test_unwritable_output_under_a_file(tmp_path, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    assert main(["data", "synthetic", "--out", str(blocker / "set"), "--images", "20"]) == 1
    err = capsys.readouterr().err
    assert "cannot create the data set folders" in err
    assert "Traceback" not in err


def test_data_dir_without_annotations(tmp_path, capsys):
    (tmp_path / "coco").mkdir()
    code = main(["search", "--run-dir", str(tmp_path / "r"), "--set", "data.source=coco",
                 "--set", f"data.root={tmp_path / 'coco'}", "--set", f"data.cache_dir={tmp_path / 'cache'}"])
    assert code == 1
    err = capsys.readouterr().err
    assert "no annotations folder" in err
    assert "Traceback" not in err


def test_console_script_runs():
    completed = subprocess.run([sys.executable, "-m", "nncaption", "--help"], capture_output=True, text=True)
    assert completed.returncode == 0
    assert "search" in completed.stdout
