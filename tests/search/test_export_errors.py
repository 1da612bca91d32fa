"""The LEMUR export of an incomplete run directory fails with a message and writes nothing."""

from __future__ import annotations

import shutil

import pytest

import nncaption.search.driver as driver
from nncaption.cli.main import main
from nncaption.errors import StoreError
from nncaption.store import Store

from .fake_trial import fake_run_trial
from .helpers import search_args


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, data_cache):
    run_dir = tmp_path_factory.mktemp("export") / "run"
    patch = pytest.MonkeyPatch()
    patch.setattr(driver, "run_trial", fake_run_trial)
    try:
        assert main(search_args(run_dir, data_cache, "search.candidates=2", "search.report=false")) == 0
    finally:
        patch.undo()
    return run_dir


def test_missing_model_files_named(finished_run, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(finished_run, copy, ignore=shutil.ignore_patterns("candidates"))

    assert main(["export", "lemur", str(copy), "--out", str(tmp_path / "out")]) == 1
    error = capsys.readouterr().err
    assert "model file(s) missing" in error
    assert "candidates/0000/model.py" in error
    assert not (tmp_path / "out").exists()


def test_empty_store_file_rejected(tmp_path):
    (tmp_path / "store.sqlite").write_bytes(b"")

    with pytest.raises(StoreError, match="is empty"):
        Store(tmp_path / "store.sqlite", create=False)
    assert (tmp_path / "store.sqlite").stat().st_size == 0


def test_missing_store_rejected_without_create(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "store.sqlite", create=False)
    assert not (tmp_path / "store.sqlite").exists()
