"""Golden replies: each maps to the code extraction must return, or to its no-code reason."""

import json
from pathlib import Path

import pytest

from nncaption.codegen.extract import extract_code, split_thinking

FIXTURES = Path(__file__).parent / "fixtures"
CASES = json.loads((FIXTURES / "extract" / "cases.json").read_text(encoding="utf-8"))


def _read(relative: str) -> str:
    # newline="" keeps Windows line endings in the reply fixtures as they are.
    with open(FIXTURES / relative, encoding="utf-8", newline="") as handle:
        return handle.read()


def test_golden_set_is_large_enough():
    assert len(CASES) >= 30
    assert sum(1 for case in CASES.values() if case["expected"] is None) >= 8


@pytest.mark.parametrize("name", sorted(CASES))
def test_extraction_golden(name):
    case = CASES[name]
    reply = _read(f"extract/{name}.reply.txt")
    reasoning = _read(case["reasoning"]) if "reasoning" in case else None

    result = extract_code(reply, reasoning, case["finish_reason"])

    if case["expected"] is None:
        assert result.code is None
        assert case["reason"] in result.reason
        assert result.method == ""
    else:
        assert result.code == _read(case["expected"])
        assert result.method == case["method"]
        assert result.reason == ""
    assert result.truncated == (case["finish_reason"] == "length")


def test_windows_line_endings_noted():
    result = extract_code(_read("extract/windows_line_endings.reply.txt"))
    assert "normalised Windows line endings" in result.notes
    assert "\r" not in result.code


def test_curly_quotes_still_score_as_parsing():
    result = extract_code(_read("extract/curly_quotes_kept.reply.txt"))
    assert result.parses


def test_split_thinking_shapes():
    assert split_thinking("<think>a</think>b") == ("a", "b", "closed")
    assert split_thinking("a</think>b") == ("a", "b", "lone_close")
    assert split_thinking("x<think>a") == ("a", "x", "unclosed")
    assert split_thinking("plain") == ("", "plain", "none")


def test_long_unfenced_prose_is_bounded():
    reply = "import this\n" + "Some prose line that goes on.\n" * 2000
    result = extract_code(reply)
    assert result.method == "bare in answer"
    assert result.code == "import this\n"


def test_bare_code_with_inner_syntax_error_kept_whole():
    code = "import torch\n\n\nclass Net(torch.nn.Module)\n    def forward(self, x):\n        return x\n"
    result = extract_code("Here is my model.\n\n" + code + "\nIt is simple.\n")
    assert result.code == code + "\nIt is simple.\n"
    assert not result.parses
