"""`nncaption check`: exit codes, the text format and the JSON schema."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest
from corpus_util import CORPUS

from nncaption.cli import check_cmd

VALID_FILE = CORPUS / "valid" / "lstm_tuple.py"
BROKEN_FILE = CORPUS / "invalid" / "hp_undeclared_subscript.py"


def _check(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="nncaption")
    check_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["check", *argv])
    return args.run(args)


def test_valid_file_no_run_exits_zero(capsys):
    assert _check([str(VALID_FILE), "--no-run"]) == 0
    assert "valid" in capsys.readouterr().out


def test_broken_file_exits_one(capsys):
    assert _check([str(BROKEN_FILE), "--no-run"]) == 1
    out = capsys.readouterr().out
    assert re.search(rf"^{re.escape(str(BROKEN_FILE))}:20:\d+ hp-key-undeclared ", out, re.MULTILINE)
    assert "invalid (contract_violation)" in out


def test_missing_file_exits_two(tmp_path: Path, capsys):
    assert _check([str(tmp_path / "absent.py")]) == 2
    assert "not found" in capsys.readouterr().err


def test_too_small_vocab_exits_two(capsys):
    assert _check([str(VALID_FILE), "--vocab-size", "3"]) == 2
    assert "--vocab-size" in capsys.readouterr().err


def test_json_schema(capsys):
    assert _check([str(BROKEN_FILE), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"schema_version", "file", "valid", "status", "violations", "behaviour"}
    assert report["schema_version"] == 1
    assert report["valid"] is False
    assert report["status"] == "contract_violation"
    assert report["violations"][0]["rule"] == "hp-key-undeclared"
    assert report["behaviour"]["ran"] is False


def test_warnings_do_not_fail(capsys):
    path = CORPUS / "invalid" / "warn_cuda.py"
    assert _check([str(path), "--no-run", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True
    assert [v["rule"] for v in report["violations"]] == ["cuda-call"]


@pytest.mark.slow
def test_behaviour_run_valid_file(capsys):
    assert _check([str(VALID_FILE), "--json", "--timeout", "120"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["behaviour"]["ran"] is True
    names = [check["name"] for check in report["behaviour"]["checks"]]
    assert names[:3] == ["build", "param_budget", "teacher_forcing_shape"]
    assert all(check["passed"] for check in report["behaviour"]["checks"])


@pytest.mark.slow
def test_behaviour_run_catches_future_peeking(tmp_path: Path, capsys):
    source = (CORPUS / "valid" / "transformer_causal.py").read_text()
    source = source.replace("tgt_mask=mask, tgt_is_causal=True", "tgt_mask=None")
    model = tmp_path / "no_mask.py"
    model.write_text(source)
    assert _check([str(model), "--timeout", "120"]) == 1
    out = capsys.readouterr().out
    assert "check causality" in out
    assert "invalid (smoke_failed)" in out


@pytest.mark.slow
def test_behaviour_run_import_error_is_build_error(tmp_path: Path, capsys):
    model = tmp_path / "bad_import.py"
    model.write_text(VALID_FILE.read_text().replace("import torch\n", "import torch\nimport numpy.missing_module\n", 1))
    assert _check([str(model), "--json", "--timeout", "120"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "build_error"
    assert report["behaviour"]["checks"][0]["name"] == "build"


def test_main_dispatches_check(capsys):
    from nncaption.cli.main import main

    assert main(["check", str(BROKEN_FILE), "--no-run"]) == 1
    assert "hp-key-undeclared" in capsys.readouterr().out


def test_directory_is_not_reported_missing(tmp_path: Path, capsys):
    folder = tmp_path / "model.py"
    folder.mkdir()
    assert _check([str(folder)]) == 2
    err = capsys.readouterr().err
    assert "is a directory" in err
    assert "not found" not in err


def test_device_is_not_a_regular_file(capsys):
    assert _check(["--no-run", "/dev/null"]) == 2
    err = capsys.readouterr().err
    assert "is not a regular file" in err
    assert "not found" not in err


@pytest.mark.parametrize(
    ("option", "value"),
    [("--batch-size", "0"), ("--image-size", "4"), ("--param-budget", "-1"), ("--timeout", "0"), ("--timeout", "inf"),
     ("--batch-size", "2000"), ("--image-size", "5000"), ("--seq-len", "600")],
)
def test_bad_option_is_named_with_its_value(option: str, value: str, capsys):
    assert _check([str(VALID_FILE), option, value]) == 2
    err = capsys.readouterr().err
    assert f"{option} must be" in err
    printed_value = f"{int(value):,}" if value.isdigit() else value  # whole numbers get thousands separators
    assert f"got {printed_value}" in err
    assert [o for o in ("--batch-size", "--image-size", "--seq-len", "--param-budget", "--timeout") if o in err] == [option]


def test_every_banned_module_of_one_import_reported(tmp_path: Path, capsys):
    path = tmp_path / "imports.py"
    path.write_text(VALID_FILE.read_text(encoding="utf-8").replace("import torch\n", "import json, subprocess\nimport torch\n", 1))
    assert _check([str(path), "--no-run"]) == 1
    out = capsys.readouterr().out
    assert "import of 'json' is not allowed" in out
    assert "import of 'subprocess' is not allowed" in out


def test_literal_getattr_torch_save_rejected_statically(tmp_path: Path, capsys):
    # The tester's file: torch's C++ writer reached through getattr with a literal name.
    path = tmp_path / "save2.py"
    source = VALID_FILE.read_text(encoding="utf-8")
    marker = "        super().__init__()\n"
    assert marker in source
    path.write_text(source.replace(marker, marker + "        getattr(torch, 'save')({}, '/tmp/nncaption-never.pt')\n", 1))
    assert _check([str(path), "--no-run"]) == 1
    out = capsys.readouterr().out
    assert "banned-call 'torch.save'" in out
    assert "invalid (policy_violation)" in out


def test_signature_hint_names_captions_only_for_forward(tmp_path: Path, capsys):
    path = tmp_path / "learn_arity.py"
    source = VALID_FILE.read_text(encoding="utf-8")
    assert "def learn(self, train_data):" in source
    path.write_text(source.replace("def learn(self, train_data):", "def learn(self):", 1))
    assert _check([str(path), "--no-run"]) == 1
    out = capsys.readouterr().out
    assert "method-signature Net.learn" in out
    assert "hidden_state" not in out


# A model that builds, then raises in forward: the teacher_forcing_shape check fails.
RAISING_FORWARD = '''import torch
import torch.nn as nn


def supported_hyperparameters():
    return {"lr"}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.embed = nn.Embedding(out_shape[0], 8)

    def train_setup(self, prm):
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm["lr"])

    def learn(self, train_data):
        pass

    def forward(self, images, captions=None, hidden_state=None):
        raise ValueError("boom in forward")
'''
RAISE_LINE = RAISING_FORWARD.splitlines().index('        raise ValueError("boom in forward")') + 1


def test_location_rewritten_to_user_file():
    message = "ValueError: boom (model.py line 24, in forward)"
    assert check_cmd.locate_in_user_file(message, "nets/my_net.py") == "ValueError: boom (nets/my_net.py:24, in forward)"


def test_location_of_other_file_kept():
    message = "RuntimeError: bad shape (functional.py line 7, in linear)"
    assert check_cmd.locate_in_user_file(message, "nets/my_net.py") == message


def test_location_only_at_message_end():
    message = "ValueError: (model.py line 3, in f) was quoted"
    assert check_cmd.locate_in_user_file(message, "nets/my_net.py") == message


@pytest.mark.slow
def test_runtime_failure_names_user_file(tmp_path: Path, capsys):
    model = tmp_path / "my_net.py"
    model.write_text(RAISING_FORWARD)
    assert _check([str(model), "--json", "--timeout", "120"]) == 1
    report = json.loads(capsys.readouterr().out)
    failed = next(check for check in report["behaviour"]["checks"] if not check["passed"])
    assert failed["name"] == "teacher_forcing_shape"
    assert failed["message"].endswith(f"({model}:{RAISE_LINE}, in forward)")
    assert report["behaviour"]["message"].endswith(f"({model}:{RAISE_LINE}, in forward)")


@pytest.mark.slow
def test_import_failure_names_user_file(tmp_path: Path, capsys):
    model = tmp_path / "my_net.py"
    model.write_text(RAISING_FORWARD.replace("import torch.nn as nn\n", "import torch.nn as nn\nundefined_name + 1\n"))
    assert _check([str(model), "--timeout", "120"]) == 1
    out = capsys.readouterr().out
    assert f"NameError: name 'undefined_name' is not defined ({model}:3, in <module>)" in out
