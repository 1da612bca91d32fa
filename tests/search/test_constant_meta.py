"""A search stores the constant caption scored on its trials' val and test subsets, and the report shows it."""

from __future__ import annotations

import json

import pytest

import nncaption.search.driver as driver
from nncaption.cli.main import main
from nncaption.report.data import collect
from nncaption.store import Store

from .fake_trial import fake_run_trial
from .helpers import search_args


@pytest.mark.parametrize("test_images", [0, 4])
def test_constant_caption_meta_matches_report(tmp_path, data_cache, monkeypatch, capsys, test_images):
    monkeypatch.setattr(driver, "run_trial", fake_run_trial)
    run_dir = tmp_path / "run"

    assert main(search_args(run_dir, data_cache, "search.candidates=1", "search.report=false",
                            f"data.test_images={test_images}")) == 0
    store = Store(run_dir / "store.sqlite", create=False)
    stored = store.get_meta("constant_caption")
    manifest = store.get_meta("data")["manifest"]["constant_caption"]
    store.close()

    assert collect(run_dir).constant == stored
    assert (stored.get("test_images") == 4) == (test_images == 4)
    if test_images == 0:
        assert stored["test_bleu4"] == manifest["test_bleu4"]
    printed = capsys.readouterr().out
    assert f"test BLEU-4 {stored['test_bleu4']:.3f}" in printed
    json.dumps(stored)  # stored as plain JSON
