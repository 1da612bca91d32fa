"""Read caption data sets in their standard layouts into one in-memory form.

COCO layout: `annotations/captions_{train,val}{YEAR}.json` plus the image folders
`{train,val}{YEAR}/`. Optionally a Karpathy-style split file (`dataset_coco.json`)
assigns images to train/restval/val/test by their COCO id; without one, the val
annotations are split in half by image id into val and test.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nncaption.errors import DataError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


@dataclass
class ImageRecord:
    image_id: int
    path: Path
    captions: list[str]


@dataclass
class CaptionDataset:
    name: str
    splits: dict[str, list[ImageRecord]]
    source_files: list[Path] = field(default_factory=list)  # what the preprocessed cache is keyed on
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count


def read_json(path: Path, what: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError as exc:
        raise DataError(f"{what} not found: {path}") from exc
    except json.JSONDecodeError as exc:
        raise DataError(f"{what} {path} is not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    except OSError as exc:
        raise DataError(f"cannot read {what} {path}: {exc.strerror}") from exc


def load_coco(root: Path, year: int = 2017, split_file: Path | None = None, name: str = "coco") -> CaptionDataset:
    """Read a COCO-layout captions data set rooted at `root`."""
    root = Path(root)
    annotations = root / "annotations"
    if not annotations.is_dir():
        raise DataError(
            f"no annotations folder in {root}: expected {annotations}/captions_train{year}.json "
            f"and captions_val{year}.json (the COCO layout); set data.root to the folder that contains annotations/"
        )
    by_id: dict[int, ImageRecord] = {}
    folder_of: dict[int, str] = {}
    files = []
    for part in ("train", "val"):
        path = annotations / f"captions_{part}{year}.json"
        files.append(path)
        for record in _coco_records(read_json(path, "COCO captions file"), root / f"{part}{year}", path):
            by_id[record.image_id] = record
            folder_of[record.image_id] = part

    skipped = {"images_without_captions": sum(1 for r in by_id.values() if not r.captions)}
    records = {i: r for i, r in by_id.items() if r.captions}
    if split_file is not None:
        files.append(Path(split_file))
        splits = _karpathy_assignment(records, Path(split_file))
    else:
        splits = _default_assignment(records, folder_of)
    return CaptionDataset(name, splits, files, skipped)


def _coco_records(payload: Any, image_dir: Path, path: Path) -> list[ImageRecord]:
    if not isinstance(payload, dict) or "images" not in payload or "annotations" not in payload:
        raise DataError(f"{path} is not a COCO captions file: expected an object with 'images' and 'annotations'")
    records = {}
    for image in payload["images"]:
        records[int(image["id"])] = ImageRecord(int(image["id"]), image_dir / image["file_name"], [])
    for annotation in payload["annotations"]:
        record = records.get(int(annotation["image_id"]))
        if record is None:
            raise DataError(f"{path}: annotation {annotation.get('id')} names image {annotation['image_id']}, which is not listed")
        if not isinstance(annotation.get("caption"), str):
            raise DataError(f"{path}: annotation {annotation.get('id')} has no caption string")
        record.captions.append(annotation["caption"])
    return list(records.values())


def _karpathy_assignment(records: dict[int, ImageRecord], split_file: Path) -> dict[str, list[ImageRecord]]:
    payload = read_json(split_file, "Karpathy split file")
    if not isinstance(payload, dict) or not isinstance(payload.get("images"), list):
        raise DataError(f"{split_file} is not a Karpathy split file: expected an object with an 'images' list")
    splits: dict[str, list[ImageRecord]] = {s: [] for s in SPLITS}
    for entry in payload["images"]:
        split = {"restval": "train"}.get(entry.get("split"), entry.get("split"))
        if split not in splits:
            raise DataError(f"{split_file}: unknown split {entry.get('split')!r}; expected train, restval, val or test")
        record = records.get(int(entry.get("cocoid", -1)))
        if record is not None:
            splits[split].append(record)
    return splits


def _default_assignment(records: dict[int, ImageRecord], folder_of: dict[int, str]) -> dict[str, list[ImageRecord]]:
    train = [r for i, r in sorted(records.items()) if folder_of[i] == "train"]
    held_out = [r for i, r in sorted(records.items()) if folder_of[i] == "val"]
    half = len(held_out) // 2
    return {"train": train, "val": held_out[:half], "test": held_out[half:]}
