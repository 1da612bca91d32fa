"""Resolve the configured data source into a prepared cache (the parent-side entry point)."""

from __future__ import annotations

import logging
from pathlib import Path

from nncaption.config import DataConfig
from nncaption.data.cache import PrepareSettings, PreparedData, Progress, prepare
from nncaption.data.sources import CaptionDataset, load_coco
from nncaption.data.synthetic import write_synthetic
from nncaption.errors import ConfigError

log = logging.getLogger(__name__)

SOURCES = ("synthetic", "coco")


def synthetic_root(config: DataConfig) -> Path:
    """Where the built-in synthetic set for these settings lives in the cache."""
    name = f"synthetic-n{config.synthetic_images}-s{config.synthetic_size}-seed{config.synthetic_seed}"
    return Path(config.cache_dir).expanduser() / name


def load_source(config: DataConfig) -> CaptionDataset:
    """Read the configured data source; the synthetic set is written once into the cache first."""
    if config.source == "synthetic":
        root = synthetic_root(config)
        if not (root / "dataset_synthetic.json").is_file():
            log.info("writing the synthetic data set to %s", root)
            write_synthetic(root, config.synthetic_images, config.synthetic_size, config.synthetic_seed)
        return load_coco(root, 2017, root / "dataset_synthetic.json", name="synthetic")
    if config.source == "coco":
        if not config.root:
            raise ConfigError("data.source=coco needs data.root, the folder that contains annotations/")
        split_file = Path(config.split_file) if config.split_file else None
        return load_coco(Path(config.root).expanduser(), config.year, split_file)
    raise ConfigError(f"unknown data.source {config.source!r}; expected one of: {', '.join(SOURCES)}")


def prepare_data(config: DataConfig, progress: Progress | None = None) -> PreparedData:
    settings = PrepareSettings(config.image_size, config.max_len, config.min_count)
    return prepare(load_source(config), Path(config.cache_dir), settings, progress)
