"""Fixtures of the search tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import TINY_DATA


@pytest.fixture(scope="session")
def data_cache(tmp_path_factory) -> Path:
    """A prepared tiny synthetic data set, built once per session."""
    from nncaption.config import load_config
    from nncaption.data.prepare import prepare_data

    cache = tmp_path_factory.mktemp("cache")
    prepare_data(load_config(None, TINY_DATA + [f"data.cache_dir={cache}"]).data)
    return cache
