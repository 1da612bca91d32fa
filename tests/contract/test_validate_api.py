"""validate_source and status_for on inputs the corpus does not cover."""

from __future__ import annotations

from pathlib import Path

from corpus_util import CORPUS

from nncaption.codegen.validate import Violation, status_for, validate_source
from nncaption.status import Status

VALID_SOURCE = (CORPUS / "valid" / "lstm_tuple.py").read_text()


def _rules(source: str | bytes) -> list[str]:
    return [v.rule for v in validate_source(source)]


def test_str_and_bytes_agree():
    broken = VALID_SOURCE.replace("super().__init__()", "pass")
    assert validate_source(broken) == validate_source(broken.encode())


def test_utf8_bom_accepted():
    assert validate_source(b"\xef\xbb\xbf" + VALID_SOURCE.encode()) == []


def test_null_byte_is_syntax_error():
    assert _rules("x = 1\x00\n") == ["syntax-error"]


def test_deep_nesting_is_syntax_error():
    source = "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n"
    assert _rules(source) == ["syntax-error"]


def test_whitespace_only_is_empty():
    assert _rules(" \n\t\n") == ["empty-file"]


def test_docstring_only_is_empty():
    assert _rules('"""A model file that never got written."""\n') == ["empty-file"]


def test_not_utf8_position():
    found = validate_source(b"x = 1\ny = '\xff'\n")
    assert [(v.rule, v.line, v.col) for v in found] == [("not-utf8", 2, 6)]


def test_syntax_error_position():
    found = validate_source("x = 1\nif x\n    pass\n")
    assert found[0].rule == "syntax-error"
    assert (found[0].line, found[0].col) == (2, 5)


def test_validation_never_runs_file(tmp_path: Path):
    marker = tmp_path / "ran"
    source = VALID_SOURCE + f"\nopen({str(marker)!r}, 'w').write('x')\n"
    found = validate_source(source)
    assert "banned-call" in [v.rule for v in found]
    assert not marker.exists()


def test_violation_to_dict_fields():
    found = validate_source(VALID_SOURCE.replace("import torch\n", "import os\nimport torch\n", 1))
    record = found[0].to_dict()
    assert set(record) == {"rule", "severity", "line", "col", "message", "hint"}
    assert record["rule"] == "import-not-allowed"
    assert record["line"] == 2


def test_violations_sorted_by_position():
    source = VALID_SOURCE.replace("super().__init__()", "pass").replace("import torch\n", "import os\nimport torch\n", 1)
    found = validate_source(source)
    assert found == sorted(found, key=lambda v: (v.line, v.col))


def _error(rule: str) -> Violation:
    return Violation(rule, "error", 1, 1, "m", "h")


def test_status_precedence():
    assert status_for([_error("hp-key-unused"), _error("banned-call")]) == Status.POLICY_VIOLATION
    assert status_for([_error("banned-call"), _error("syntax-error")]) == Status.SYNTAX_ERROR
    assert status_for([_error("method-missing")]) == Status.CONTRACT_VIOLATION


def test_status_none_for_warnings():
    assert status_for([Violation("cuda-call", "warning", 3, 1, "m", "h")]) is None
    assert status_for([]) is None


def test_unknown_name_hint_suggests_existing():
    source = VALID_SOURCE.replace("nn.LSTM(32, 32", "nn.Lstm(32, 32")
    found = [v for v in validate_source(source) if v.rule == "unknown-torch-name"]
    assert len(found) == 1
    assert "torch.nn.LSTM" in found[0].hint


def test_input_parameter_is_not_builtin():
    source = VALID_SOURCE.replace("def _initial_state(self, images):\n        feature = self.encoder(images)",
                                  "def _initial_state(self, input):\n        feature = self.encoder(input)")
    assert "def _initial_state(self, input)" in source
    assert validate_source(source) == []


def test_net_inherits_methods_from_local_base():
    source = (CORPUS / "valid" / "helpers_style.py").read_text()
    assert "class Net(CaptionBase)" in source
    assert validate_source(source) == []


def test_lazy_import_inside_function_checked():
    source = VALID_SOURCE.replace("        self.device = device\n", "        import socket\n        self.device = device\n")
    assert "import-not-allowed" in _rules(source)


def test_lone_surrogate_is_not_utf8():
    found = validate_source('x = 1\ny = "\udcff"\n')
    assert [(v.rule, v.line, v.col) for v in found] == [("not-utf8", 2, 6)]


def test_prm_passed_to_helper_counts_as_read():
    source = VALID_SOURCE.replace("{'lr', 'momentum', 'dropout'}", "{'lr', 'momentum', 'dropout', 'width'}")
    unused = [v.rule for v in validate_source(source)]
    assert unused == ["hp-key-unused"]
    passed_on = source.replace("        self.device = device\n", "        self.device = device\n        self.options = dict(prm)\n")
    assert validate_source(passed_on) == []


def test_hp_method_gets_move_hint():
    module_level = "def supported_hyperparameters():\n    return {'lr', 'momentum', 'dropout'}\n"
    as_method = "    def supported_hyperparameters(self):\n        return {'lr', 'momentum', 'dropout'}\n\n"
    assert module_level in VALID_SOURCE
    source = VALID_SOURCE.replace(module_level, "").replace("class Net(nn.Module):\n", "class Net(nn.Module):\n" + as_method, 1)

    found = [v for v in validate_source(source) if v.rule == "hp-function-missing"]

    assert len(found) == 1
    assert "move it out of the class" in found[0].hint


def test_hp_missing_keeps_rule_hint():
    module_level = "def supported_hyperparameters():\n    return {'lr', 'momentum', 'dropout'}\n"
    found = [v for v in validate_source(VALID_SOURCE.replace(module_level, "")) if v.rule == "hp-function-missing"]

    assert len(found) == 1
    assert "move it out of the class" not in found[0].hint
