import argparse
import os
import subprocess
import sys

import pytest

from nncaption.cli.main import COMMAND_MODULES, build_parser, main


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


def _subcommand_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Return the name path of every subcommand under `parser`, nested ones included."""
    paths = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                paths.append((*prefix, name))
                paths += _subcommand_paths(subparser, (*prefix, name))
    return paths


SUBCOMMANDS = _subcommand_paths(build_parser())


def test_subcommand_list_is_complete():
    assert ("data", "synthetic") in SUBCOMMANDS
    assert ("zoo",) in SUBCOMMANDS
    assert len(SUBCOMMANDS) >= len(COMMAND_MODULES)


@pytest.mark.parametrize("path", SUBCOMMANDS, ids=" ".join)
def test_bad_option_prints_subcommand_usage(path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*path, "--no-such-option"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    command = " ".join(("nncaption", *path))
    assert err.startswith(f"usage: {command} ")
    assert f"\n{command}: error: " in err
    assert f"Run '{command} --help' for the options." in err


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["data", "synthetic", "--out", "unused", "--wrong-option"], "nncaption data synthetic"),
        (["zoo", "--no-probe", "--wrong-option"], "nncaption zoo"),
        (["check", "model.py", "--wrong-option"], "nncaption check"),
        (["data", "--wrong-option", "synthetic", "--out", "unused"], "nncaption data"),
    ],
)
def test_unknown_option_names_its_subcommand(argv, command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: {command} ")
    assert f"{command}: error: unrecognized arguments: --wrong-option" in err


def test_unknown_option_before_command_prints_top_usage(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--wrong-option", "zoo"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: nncaption [-h]")
    assert "nncaption: error: unrecognized arguments: --wrong-option" in err
