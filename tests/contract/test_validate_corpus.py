"""The validator on the fault corpus: every broken file triggers its rules at the right line."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus_util import INVALID, VALID, expectations

from nncaption.codegen.validate import status_for, validate_source
from nncaption.contract import RULES_BY_ID


def test_corpus_has_enough_files():
    assert len(INVALID) >= 40
    assert len(VALID) >= 8


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_broken_file_triggers_rule_at_line(path: Path):
    expected = expectations(path)
    found = validate_source(path.read_bytes(), path.name)
    positions = {(v.rule, v.line) for v in found}
    for rule, line in expected:
        assert (rule, line) in positions, f"{rule} expected at line {line}; found {sorted(positions)}"


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_broken_file_has_no_unexpected_errors(path: Path):
    expected_rules = {rule for rule, _ in expectations(path)}
    found = validate_source(path.read_bytes(), path.name)
    unexpected = [v for v in found if v.severity == "error" and v.rule not in expected_rules]
    assert unexpected == []


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_broken_file_status(path: Path):
    expected_statuses = {RULES_BY_ID[rule].status for rule, _ in expectations(path)}
    status = status_for(validate_source(path.read_bytes(), path.name))
    if expected_statuses == {None}:
        assert status is None  # warnings only
    else:
        assert status in expected_statuses


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_file_has_no_findings(path: Path):
    assert validate_source(path.read_bytes(), path.name) == []


def test_every_rule_triggered_by_corpus():
    triggered = {rule for path in INVALID for rule, _ in expectations(path)}
    assert set(RULES_BY_ID) - triggered == set()
