"""Resolve the configured data source into a prepared cache (the parent-side entry point)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from nncaption.config import DataConfig, check_data_config
from nncaption.data.cache import PreparedData, PrepareSettings, Progress, prepare
from nncaption.data.sources import CaptionDataset, check_restval, load_coco, load_karpathy
from nncaption.data.synthetic import MARKER_FILE, write_synthetic
from nncaption.errors import ConfigError, DataError

log = logging.getLogger(__name__)

SOURCES = ("synthetic", "coco", "karpathy")


def synthetic_root(config: DataConfig) -> Path:
    """Return the folder of the built-in synthetic set for these settings in the cache."""
    name = f"synthetic-n{config.synthetic_images}-s{config.synthetic_size}-seed{config.synthetic_seed}"
    return Path(config.cache_dir).expanduser() / name


def load_source(config: DataConfig) -> CaptionDataset:
    """Read the configured data source; the synthetic set is written once into the cache first."""
    check_restval(config.restval)
    if config.source == "synthetic":
        root = synthetic_root(config)
        if not (root / MARKER_FILE).is_file():
            _remove_partial_set(root)
            log.info("writing the synthetic data set to %s", root)
            write_synthetic(root, config.synthetic_images, config.synthetic_size, config.synthetic_seed)
        return load_coco(root, 2017, root / MARKER_FILE, name="synthetic")
    if config.source == "coco":
        if not config.root:
            raise ConfigError("data.source=coco needs data.root, the folder that contains annotations/")
        split_file = Path(config.split_file).expanduser() if config.split_file else None
        return load_coco(Path(config.root).expanduser(), config.year, split_file, restval=config.restval)
    if config.source == "karpathy":
        if not config.split_file:
            raise ConfigError("data.source=karpathy needs data.split_file, a Karpathy dataset_*.json "
                              "(dataset_coco.json, dataset_flickr8k.json or dataset_flickr30k.json)")
        image_root = Path(config.image_root).expanduser() if config.image_root else None
        return load_karpathy(Path(config.split_file).expanduser(), image_root, restval=config.restval)
    raise ConfigError(f"unknown data.source {config.source!r}; expected one of: {', '.join(SOURCES)}")


def _remove_partial_set(root: Path) -> None:
    """Delete a synthetic set folder in the cache that has no marker file, so it can be written again.

    Versions before the write into a temporary folder left such a folder when interrupted.
    The folder name is one that `synthetic_root` derives, so it contains nothing but that set.
    """
    if not root.is_dir() or (root / MARKER_FILE).is_file():  # another process may have just finished it
        return
    log.warning("removing the incomplete synthetic set %s (no %s) to write it again", root, MARKER_FILE)
    try:
        shutil.rmtree(root)
    except OSError as exc:
        raise DataError(f"cannot remove the incomplete synthetic set {root}: {exc.strerror}; delete it by hand") from exc


def prepare_settings(config: DataConfig) -> PrepareSettings:
    """Return the preprocessing settings of `config` after checking every `data` value's range."""
    check_data_config(config)
    return PrepareSettings(config.image_size, config.max_len, config.min_count, config.workers)


def prepare_data(config: DataConfig, progress: Progress | None = None) -> PreparedData:
    """Read the configured source and return its prepared cache, building it on first use."""
    settings = prepare_settings(config)
    return prepare(load_source(config), Path(config.cache_dir), settings, progress)
