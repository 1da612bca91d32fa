"""validate_source returns violations, never raises, on damaged and arbitrary input."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus_util import VALID
from hypothesis import given, settings
from hypothesis import strategies as st

from nncaption.codegen.validate import Violation, status_for, validate_source
from nncaption.contract import RULES_BY_ID


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_deleting_lines_never_raises(path: Path):
    lines = path.read_text().splitlines(keepends=True)
    for index in range(0, len(lines), 3):
        damaged = "".join(lines[:index] + lines[index + 1:])
        found = validate_source(damaged)
        assert all(v.rule in RULES_BY_ID for v in found)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes):
    found = validate_source(data)
    assert all(isinstance(v, Violation) for v in found)
    status_for(found)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("classNet(nn.Module):def prm['lr'] \n\t()[]{}=,.'\"#_")), max_size=200))
def test_python_like_text_never_raises(text: str):
    found = validate_source(text)
    assert all(v.line >= 1 and v.col >= 1 for v in found)
