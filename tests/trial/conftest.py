"""Shared fixtures of the trial tests: a tiny prepared synthetic data set and one torch thread."""

from __future__ import annotations

from pathlib import Path

import pytest

from nncaption.data.cache import PreparedData
from nncaption.data.prepare import prepare_data

from .helpers import tiny_config


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("trial-cache")


@pytest.fixture(scope="session")
def tiny_prepared(tiny_cache: Path) -> PreparedData:
    return prepare_data(tiny_config(tiny_cache).data)


@pytest.fixture(autouse=True, scope="package")
def single_torch_thread():
    """Run the small test models on one thread: faster than two busy-waiting ones on a shared CPU."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
