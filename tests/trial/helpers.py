"""Settings and paths shared by the trial tests."""

from __future__ import annotations

from pathlib import Path

from nncaption.config import RunConfig, load_config

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
