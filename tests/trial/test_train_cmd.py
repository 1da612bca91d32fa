"""`nncaption train`: usage errors, invalid models and a whole tiny run."""

from __future__ import annotations

import json

import pytest

from nncaption.cli.main import main

from .helpers import MODELS, TINY


def _train(model, out, cache, *extra):
    args = ["-q", "train", str(model), "--out", str(out), "--set", f"data.cache_dir={cache}"]
    for item in TINY:
        args += ["--set", item]
    return main([*args, *extra])


def test_missing_model_file_is_usage_error(tmp_path, capsys):
    assert main(["train", str(tmp_path / "absent.py")]) == 2
    assert "not found" in capsys.readouterr().err


def test_out_that_is_a_file_is_usage_error(tmp_path, capsys):
    (tmp_path / "taken").write_text("")

    assert main(["train", str(MODELS / "tiny_gru.py"), "--out", str(tmp_path / "taken")]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err


def test_uncreatable_out_is_usage_error(tmp_path, capsys):
    (tmp_path / "file").write_text("")

    assert main(["train", str(MODELS / "tiny_gru.py"), "--out", str(tmp_path / "file" / "sub")]) == 2
    assert "cannot create the --out folder" in capsys.readouterr().err


def test_invalid_prm_is_usage_error(tmp_path, capsys):
    assert main(["train", str(MODELS / "tiny_gru.py"), "--prm", "[1, 2]"]) == 2
    assert "--prm must be a JSON object" in capsys.readouterr().err


def test_non_numeric_prm_is_usage_error(tmp_path, capsys):
    assert main(["train", str(MODELS / "tiny_gru.py"), "--prm", '{"lr": "fast"}']) == 2
    err = capsys.readouterr().err
    assert "--prm value of 'lr' must be a finite number" in err
    assert '"fast"' in err


def test_undeclared_prm_key_warns(tmp_path, capsys):
    # An invalid config value stops the command right after the warning, before any data preparation.
    code = main(["train", str(MODELS / "tiny_gru.py"), "--prm", '{"lr": 0.01, "dropout": 0.5}',
                 "--out", str(tmp_path / "out"), "--set", "trial.batch_size=0"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--prm keys dropout are not declared" in err
    assert "trial.batch_size must be at least 1" in err


def test_invalid_model_rejected_before_training(tmp_path, capsys):
    model = tmp_path / "broken.py"
    model.write_text("import torch\n\nclass NotNet(torch.nn.Module):\n    pass\n")
    assert main(["train", str(model), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "is invalid" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_train_writes_results_and_hypotheses(tmp_path, tiny_cache, tiny_prepared, capsys):
    out = tmp_path / "out"
    code = _train(MODELS / "tiny_gru.py", out, tiny_cache, "--epochs", "2", "--seed", "3", "--set", "trial.decoding=beam")
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "test@" in printed
    assert "status: trained" in printed

    results = json.loads((out / "results.json").read_text())
    outcome = results["outcome"]
    assert outcome["status"] == "trained"
    assert [e["epoch"] for e in outcome["epochs"]] == [1, 2]
    assert outcome["seed"] == 3
    assert results["config"]["trial"]["decoding"] == "beam"
    assert set(results["data"]["constant_caption"]) >= {"caption", "val_bleu4", "test_bleu4"}
    assert set(outcome["test_metrics"]) >= {"Bleu_4", "CIDEr"}
    for name in ("val_hypotheses.json", "test_hypotheses.json"):
        hypotheses = json.loads((out / name).read_text())
        assert hypotheses and set(hypotheses[0]) == {"image_id", "caption"}


@pytest.mark.slow
def test_failed_check_names_user_file(tmp_path, tiny_cache, tiny_prepared, capsys):
    source = (MODELS / "tiny_gru.py").read_text()
    lines = source.splitlines()
    forward = next(i for i, line in enumerate(lines) if line.strip().startswith("def forward("))
    indent = lines[forward][: len(lines[forward]) - len(lines[forward].lstrip())]
    lines.insert(forward + 1, f'{indent}    raise ValueError("boom in forward")')
    model = tmp_path / "my_net.py"
    model.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"

    assert _train(model, out, tiny_cache, "--epochs", "1") == 1
    location = f"({model}:{forward + 2}, in forward)"
    assert location in capsys.readouterr().out
    outcome = json.loads((out / "results.json").read_text())["outcome"]
    assert outcome["message"].endswith(location)
    failed = next(check for check in outcome["checks"] if not check["passed"])
    assert failed["message"].endswith(location)
