"""Shared fixtures of the trial tests: a tiny prepared synthetic data set and the test model files."""

from __future__ import annotations

from pathlib import Path

import pytest

from nncaption.config import RunConfig, load_config
from nncaption.data.cache import PreparedData
from nncaption.data.prepare import prepare_data

MODELS = Path(__file__).parent / "models"
TINY = [
    "data.synthetic_images=80",
    "data.synthetic_size=32",
    "data.image_size=16",
    "data.min_count=1",
    "trial.epochs=2",
    "trial.batch_size=16",
    "trial.timeout_s=120",
    "trial.degenerate_check=false",
]


def tiny_config(cache_dir: Path, *overrides: str) -> RunConfig:
    """The tiny trial settings on a cache under `cache_dir`, then `overrides`."""
    return load_config(None, [*TINY, f"data.cache_dir={cache_dir}", *overrides])


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
