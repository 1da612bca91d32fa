"""The rules text for prompts and the validator's checks name the same rules."""

from __future__ import annotations

import re

from nncaption.codegen.validate import CHECKS, checked_rules
from nncaption.contract import RULES, RULES_BY_ID, rules_text


def test_every_text_rule_has_check():
    in_text = set(re.findall(r"^- \[([a-z0-9-]+)\] ", rules_text(), re.MULTILINE))
    assert in_text - checked_rules() == set()


def test_every_check_rule_in_text():
    text = rules_text()
    missing = [rule for rule in checked_rules() if f"[{rule}]" not in text]
    assert missing == []


def test_text_lists_each_rule_once():
    ids = re.findall(r"^- \[([a-z0-9-]+)\] ", rules_text(), re.MULTILINE)
    assert sorted(ids) == sorted(RULES_BY_ID)
    assert len(ids) == len(set(ids))


def test_each_rule_checked_by_one_function():
    owners: dict[str, list[str]] = {}
    for check in CHECKS:
        for rule in check.rules:
            owners.setdefault(rule, []).append(check.name)
    shared = {rule: names for rule, names in owners.items() if len(names) > 1}
    assert shared == {}


def test_rule_severity_matches_status():
    for rule in RULES:
        assert rule.severity in ("error", "warning")
        assert (rule.status is None) == (rule.severity == "warning"), rule.id


def test_rules_text_names_token_ids():
    text = rules_text()
    assert "<PAD>=0" in text
    assert "<SOS>=1" in text
    assert "<EOS>=2" in text
    assert "<UNK>=3" in text
