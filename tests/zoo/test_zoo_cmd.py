"""`nncaption zoo`: the listing, user folders, snippets and encoder source."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import pytest

from nncaption.cli import zoo_cmd
from nncaption.cli.main import main

USER_FILE = '''
import torch.nn as nn

DEFAULT_WIDTH = 4


class Features(nn.Module):
    def __init__(self, in_channels, width):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, width, 3, 2, 1)
        self.out_channels = width

    def forward(self, x):
        return self.conv(x)
'''


def run_zoo(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["zoo", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_lists_builtin_entries(capsys):
    code, out, _ = run_zoo(capsys, "--no-probe")
    assert code == 0
    header = out.splitlines()[0].split()
    assert header[:5] == ["name", "kind", "family", "width", "params"]
    assert "resnet_basic" in out
    assert "cnn_transformer" in out


def test_kind_filter(capsys):
    code, out, _ = run_zoo(capsys, "--no-probe", "--kind", "captioner")
    assert code == 0
    assert "cnn_gru" in out
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert "vgg" not in names


def test_user_folder_is_listed_with_shape(capsys, tmp_path: Path):
    (tmp_path / "MyNet.py").write_text(USER_FILE)
    code, out, _ = run_zoo(capsys, "--kind", "backbone", "--dir", str(tmp_path))
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("MyNet"))
    assert "4x16x16" in row
    assert str(tmp_path) in row


def test_snippet_of_user_file(capsys, tmp_path: Path):
    (tmp_path / "MyNet.py").write_text(USER_FILE)
    code, out, _ = run_zoo(capsys, "--dir", str(tmp_path), "--snippet", "MyNet", "--budget", "2000")
    assert code == 0
    assert "class Features" in out
    ast.parse(out)


def test_encoder_source_printed(capsys):
    code, out, _ = run_zoo(capsys, "--encoder", "vgg")
    assert code == 0
    assert "class Features" in out
    assert "class Net" not in out


def test_unknown_name_fails(capsys):
    code, _, err = run_zoo(capsys, "--snippet", "nope")
    assert code == 2  # an unknown name on the command line is a usage error
    assert "no zoo entry named 'nope'" in err


def test_config_zoo_dirs_are_listed(capsys, tmp_path: Path, monkeypatch):
    (tmp_path / "FromConfig.py").write_text(USER_FILE)
    config = SimpleNamespace(zoo=SimpleNamespace(extra_dirs=[str(tmp_path)]))
    monkeypatch.setattr(zoo_cmd, "config_from_args", lambda args: config)
    code, out, _ = run_zoo(capsys, "--no-probe", "--kind", "backbone")
    assert code == 0
    assert "FromConfig" in out


# A classification file with a Net but no Features class: a backbone, yet no encoder.
NET_ONLY_FILE = '''
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.fc = nn.Linear(in_shape[1], out_shape[0])

    def forward(self, x):
        return self.fc(x.mean((2, 3)))
'''


def known_names(err: str) -> list[str]:
    """Return the names after the last ': ' of an error line."""
    return [name.strip() for name in err.strip().rsplit(": ", 1)[1].split(",")]


def test_unknown_encoder_lists_only_encoders(capsys, tmp_path: Path):
    (tmp_path / "MyNet.py").write_text(USER_FILE)
    (tmp_path / "NetOnly.py").write_text(NET_ONLY_FILE)
    code, _, err = run_zoo(capsys, "--dir", str(tmp_path), "--encoder", "nope")
    assert code == 2
    assert "no zoo entry named 'nope'" in err
    names = known_names(err)
    assert "vgg" in names
    assert "MyNet" in names
    assert "cnn_gru" not in names
    assert "cnn_transformer" not in names
    assert "NetOnly" not in names


def test_unknown_snippet_lists_captioners_too(capsys):
    code, _, err = run_zoo(capsys, "--snippet", "nope")
    assert code == 2
    names = known_names(err)
    assert "vgg" in names
    assert "cnn_gru" in names


def test_encoder_of_captioner_says_why(capsys):
    code, _, err = run_zoo(capsys, "--encoder", "cnn_gru")
    assert code == 2
    assert "it is a captioner, not a backbone" in err
