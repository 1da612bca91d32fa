"""Repair fixtures: broken file -> expected file and the names of the recorded fixes."""

import json
from pathlib import Path

import pytest

from nncaption.codegen.repair import REPAIRS, repair_source, sha256_text

FIXTURES = Path(__file__).parent / "fixtures"
CASES = json.loads((FIXTURES / "repair" / "cases.json").read_text(encoding="utf-8"))


def _read(path: Path) -> str:
    with open(path, encoding="utf-8", newline="") as handle:
        return handle.read()


def _valid_files() -> list[Path]:
    from nncaption.zoo import FILES_DIR

    return sorted((FIXTURES / "models").glob("*.py")) + sorted(Path(FILES_DIR).rglob("*.py"))


@pytest.mark.parametrize("name", sorted(CASES))
def test_repair_golden(name):
    broken = _read(FIXTURES / "repair" / f"{name}.broken.py.txt")
    expected = _read(FIXTURES / "repair" / f"{name}.expected.py.txt")

    repaired, records = repair_source(broken)

    assert repaired == expected
    assert [r.name for r in records] == CASES[name]["fixes"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_repair_records_chain_hashes(name):
    broken = _read(FIXTURES / "repair" / f"{name}.broken.py.txt")
    repaired, records = repair_source(broken)
    if not records:
        assert repaired == broken
        return
    assert records[0].before_sha256 == sha256_text(broken)
    assert records[-1].after_sha256 == sha256_text(repaired)
    for earlier, later in zip(records, records[1:], strict=False):
        assert earlier.after_sha256 == later.before_sha256
    assert all(r.reason for r in records)


@pytest.mark.parametrize("name", sorted(CASES))
def test_repair_is_idempotent(name):
    expected = _read(FIXTURES / "repair" / f"{name}.expected.py.txt")
    again, records = repair_source(expected)
    assert again == expected
    assert records == []


def test_no_repair_changes_valid_file():
    files = _valid_files()
    assert len(files) >= 5
    for path in files:
        source = _read(path)
        repaired, records = repair_source(source)
        assert records == [], f"{path.name}: {[r.name for r in records]}"
        assert repaired == source, path.name


@pytest.mark.parametrize("name,repair", REPAIRS)
def test_each_repair_skips_valid_file(name, repair):
    source = _read(FIXTURES / "models" / "lstm_captioner.py")
    assert repair(source) is None, name


def test_shadowed_name_gets_no_import():
    source = "def f(torch):\n    return torch.zeros(1)\n\nnn = None\nprint(nn, F)\nF = 1\n"
    repaired, records = repair_source(source)
    assert repaired == source
    assert records == []


def test_torch_name_case_fix_picks_exact_case_match():
    source = "import torch.nn.functional as F\n\ny = F.Relu_(x)\nz = F.RELU(x)\n"
    repaired, records = repair_source(source)
    assert "F.relu_(x)" in repaired
    assert "F.relu(x)" in repaired
    assert [r.name for r in records] == ["fix_torch_name_case"]


def test_ambiguous_torch_name_left_alone():
    # Ignoring underscores, RE_LU matches both relu and relu_, so no single fix exists.
    source = "import torch.nn.functional as F\n\ny = F.RE_LU(x)\n"
    repaired, records = repair_source(source)
    assert repaired == source
    assert records == []


def test_name_in_string_not_touched():
    source = 'import torch.nn as nn\n\nlabel = "nn.Conv2D"\nlayer = nn.Conv2D(3, 8, 3)\n'
    repaired, _ = repair_source(source)
    assert repaired == 'import torch.nn as nn\n\nlabel = "nn.Conv2D"\nlayer = nn.Conv2d(3, 8, 3)\n'


def test_no_repair_changes_composer_file():
    from nncaption.config import GeneratorConfig
    from nncaption.generate import GENERATORS, DataFacts, GenerationContext, load_generators

    load_generators()
    context = GenerationContext(DataFacts(32, 500, 20, 5), 1_000_000, seed=3)
    composer = GENERATORS["composer"](GeneratorConfig(), context)
    for index in range(8):
        source = composer.propose(index).source
        repaired, records = repair_source(source)
        assert records == [], f"composer candidate {index}: {[r.name for r in records]}"
        assert repaired == source


def _with_method(body: str) -> str:
    valid = (FIXTURES / "models" / "lstm_captioner.py").read_text(encoding="utf-8")
    without = valid.replace('def supported_hyperparameters():\n    return {"lr", "momentum"}\n\n\n', "")
    return without.replace("class Net(nn.Module):\n", "class Net(nn.Module):\n" + body, 1)


def test_hp_method_computed_not_hoisted():
    source = _with_method("    def supported_hyperparameters(self):\n        return set(self.prm)\n\n")
    assert repair_source(source) == (source, [])


def test_hp_method_beside_module_function_left_alone():
    valid = (FIXTURES / "models" / "lstm_captioner.py").read_text(encoding="utf-8")
    source = valid.replace("class Net(nn.Module):\n",
                           "class Net(nn.Module):\n    def supported_hyperparameters(self):\n        return {'lr'}\n\n", 1)
    assert repair_source(source) == (source, [])
