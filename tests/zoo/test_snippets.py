"""Snippets: every zoo file at several budgets gives valid Python within the budget."""

from __future__ import annotations

import ast
import textwrap

import pytest

from nncaption.errors import UsageError
from nncaption.zoo import list_entries
from nncaption.zoo.snippets import extract_snippet

ENTRIES = list_entries(probe=False)
BUDGETS = [0, 200, 800, 2000, 6000, 100_000]


def top_level_names(code: str) -> list[str]:
    return [n.name for n in ast.parse(code).body if isinstance(n, (ast.ClassDef, ast.FunctionDef))]


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
@pytest.mark.parametrize("budget", BUDGETS)
def test_snippet_parses_within_budget(entry, budget):
    snippet = extract_snippet(entry.source(), budget)
    assert len(snippet) <= budget
    ast.parse(snippet)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.kind == "backbone"], ids=lambda e: e.name)
def test_full_budget_backbone_snippet_has_blocks_not_classifier(entry):
    snippet = extract_snippet(entry.source(), 100_000)
    names = top_level_names(snippet)
    assert "Features" in names
    assert "Net" not in names
    assert "supported_hyperparameters" not in names
    namespace: dict = {}
    exec(snippet, namespace)
    assert namespace["Features"](3, namespace["DEFAULT_WIDTH"]).out_channels > 0


def test_snippet_grows_with_budget():
    source = next(e for e in ENTRIES if e.name == "densenet").source()
    lengths = [len(extract_snippet(source, budget)) for budget in BUDGETS]
    assert lengths == sorted(lengths)
    assert lengths[-1] > lengths[2] > 0


def test_tight_budget_outlines_blocks():
    source = next(e for e in ENTRIES if e.name == "resnet_basic").source()
    snippet = extract_snippet(source, 700)
    assert "class BasicBlock" in snippet
    assert "def forward(self, x):\n        ..." in snippet


def test_lemur_file_uses_net_as_stem():
    source = textwrap.dedent(
        '''
        import torch.nn as nn


        def supported_hyperparameters():
            return {"lr"}


        class Block(nn.Module):
            def forward(self, x):
                return x


        class Net(nn.Module):
            def __init__(self, in_shape, out_shape, prm, device):
                super().__init__()
                self.block = Block()


        if __name__ == "__main__":
            print(Net)
        '''
    )
    snippet = extract_snippet(source, 10_000)
    assert top_level_names(snippet) == ["Block", "Net"]
    assert "__main__" not in snippet


def test_invalid_source_raises():
    with pytest.raises(UsageError, match="not valid Python"):
        extract_snippet("def broken(:\n", 1000)
