"""Read caption data sets in their standard layouts into one in-memory form.

COCO layout: `annotations/captions_{train,val}{YEAR}.json` plus the image folders
`{train,val}{YEAR}/`. Optionally a Karpathy split file (`dataset_coco.json`) assigns the
images to train/restval/val/test by their COCO id. Without one, the train annotations are
the train split and the val annotations are split in half by image id into val and test.

Karpathy layout: one `dataset_{coco,flickr8k,flickr30k}.json` that lists every image with
its split, file name, optional `filepath` folder (absent in the Flickr files) and sentences.
Image paths resolve against an image root: `image_root/filepath/filename`.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nncaption.errors import ConfigError, DataError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
KARPATHY_SPLITS = ("train", "restval", "val", "test")
RESTVAL_CHOICES = ("train", "drop")  # where the Karpathy `restval` images go
MISSING_SHOWN = 5  # missing paths named in an error message


@dataclass
class ImageRecord:
    image_id: int
    path: Path
    captions: list[str]
    listed_in: Path | None = None  # the annotation or split file that names this image


@dataclass
class CaptionDataset:
    name: str
    splits: dict[str, list[ImageRecord]]
    source_files: list[Path] = field(default_factory=list)  # what the preprocessed cache is keyed on
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count
    options: dict[str, Any] = field(default_factory=dict)  # loading choices that change the splits


def read_json(path: Path, what: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError as exc:
        raise DataError(f"{what} not found: {path}") from exc
    except json.JSONDecodeError as exc:
        raise DataError(f"{what} {path} is not valid JSON (line {exc.lineno}: {exc.msg}); check that the download is complete") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{what} {path} is not UTF-8 text ({exc.reason}); check that it is the right file") from exc
    except OSError as exc:
        raise DataError(f"cannot read {what} {path}: {exc.strerror}") from exc


def check_restval(restval: str) -> None:
    if restval not in RESTVAL_CHOICES:
        raise ConfigError(f"invalid data.restval {restval!r}; expected one of: {', '.join(RESTVAL_CHOICES)}")


# --- COCO layout ---------------------------------------------------------------------------


def load_coco(root: Path, year: int = 2017, split_file: Path | None = None, name: str = "coco",
              restval: str = "train") -> CaptionDataset:
    """Read a COCO-layout captions data set rooted at `root`."""
    check_restval(restval)
    root = Path(root)
    annotations = root / "annotations"
    if not annotations.is_dir():
        raise DataError(
            f"no annotations folder in {root}: expected {annotations}/captions_train{year}.json "
            f"and captions_val{year}.json (the COCO layout); set data.root to the folder that contains annotations/"
        )
    by_id: dict[int, ImageRecord] = {}
    folder_of: dict[int, str] = {}
    files: list[Path] = []
    for part in ("train", "val"):
        path = annotations / f"captions_{part}{year}.json"
        if not path.is_file():
            found = sorted(p.name for p in annotations.glob("captions_*.json"))
            raise DataError(f"COCO captions file not found: {path}; {annotations} contains {found or 'no captions_*.json'}; "
                            f"set data.year to the year of the files you have")
        files += [path, root / f"{part}{year}"]  # the image folder's mtime changes when files are added or removed
        for record in _coco_records(read_json(path, "COCO captions file"), root / f"{part}{year}", path):
            if record.image_id in by_id:
                raise DataError(f"{path}: image id {record.image_id} is also listed in {by_id[record.image_id].listed_in}")
            by_id[record.image_id] = record
            folder_of[record.image_id] = part

    skipped = {"images_without_captions": sum(1 for r in by_id.values() if not r.captions)}
    records = {i: r for i, r in by_id.items() if r.captions}
    options: dict[str, Any] = {"year": year}
    if split_file is not None:
        files.append(Path(split_file))
        splits = _karpathy_assignment(by_id, records, Path(split_file), restval, skipped)
        options["restval"] = restval
    else:
        splits = _default_assignment(records, folder_of)
    return CaptionDataset(name, splits, [f for f in files if f.exists()], skipped, options)


def _coco_records(payload: Any, image_dir: Path, path: Path) -> list[ImageRecord]:
    if not isinstance(payload, dict) or not isinstance(payload.get("images"), list) or not isinstance(payload.get("annotations"), list):
        raise DataError(f"{path} is not a COCO captions file: expected an object with 'images' and 'annotations' lists")
    records: dict[int, ImageRecord] = {}
    for position, image in enumerate(payload["images"]):
        if not isinstance(image, dict) or not isinstance(image.get("id"), int) or not isinstance(image.get("file_name"), str):
            raise DataError(f"{path}: images[{position}] needs an integer 'id' and a string 'file_name', found {str(image)[:120]}")
        if image["id"] in records:
            raise DataError(f"{path}: image id {image['id']} is listed twice in 'images'")
        records[image["id"]] = ImageRecord(image["id"], image_dir / image["file_name"], [], path)
    for position, annotation in enumerate(payload["annotations"]):
        if not isinstance(annotation, dict):
            raise DataError(f"{path}: annotations[{position}] is not an object")
        record = records.get(annotation.get("image_id"))  # type: ignore[arg-type]
        if record is None:
            raise DataError(f"{path}: annotation {annotation.get('id')} names image {annotation.get('image_id')!r}, which is not listed in 'images'")
        if not isinstance(annotation.get("caption"), str):
            raise DataError(f"{path}: annotation {annotation.get('id')} has no caption string")
        record.captions.append(annotation["caption"])
    return list(records.values())


def _karpathy_assignment(by_id: dict[int, ImageRecord], records: dict[int, ImageRecord], split_file: Path,
                         restval: str, skipped: dict[str, int]) -> dict[str, list[ImageRecord]]:
    """Assign COCO records to splits by the `cocoid` and `split` of each split-file entry."""
    entries = _karpathy_entries(split_file)
    splits: dict[str, list[ImageRecord]] = {s: [] for s in SPLITS}
    unknown_ids = 0
    assigned: set[int] = set()
    for position, entry in enumerate(entries):
        if not isinstance(entry.get("cocoid"), int):
            raise DataError(f"{split_file}: images[{position}] has no integer 'cocoid'; a COCO split file needs one per image "
                            f"(for a Flickr split file use data.source=karpathy)")
        image_id = entry["cocoid"]
        if image_id not in by_id:
            unknown_ids += 1
            continue
        split = _target_split(entry["split"], restval)
        if split is not None and image_id in records and image_id not in assigned:
            splits[split].append(records[image_id])
            assigned.add(image_id)
    skipped["split_file_images_not_in_annotations"] = unknown_ids
    skipped["images_not_in_split_file"] = sum(1 for i in records if i not in assigned)
    if restval == "drop":
        skipped["restval_images_dropped"] = sum(1 for e in entries if e["split"] == "restval")
    return splits


def _default_assignment(records: dict[int, ImageRecord], folder_of: dict[int, str]) -> dict[str, list[ImageRecord]]:
    train = [r for i, r in sorted(records.items()) if folder_of[i] == "train"]
    held_out = [r for i, r in sorted(records.items()) if folder_of[i] == "val"]
    half = len(held_out) // 2
    return {"train": train, "val": held_out[:half], "test": held_out[half:]}


# --- Karpathy layout -----------------------------------------------------------------------


def _karpathy_entries(split_file: Path) -> list[dict[str, Any]]:
    """Return the `images` list of a Karpathy split file, with every entry's split checked."""
    payload = read_json(split_file, "Karpathy split file")
    if not isinstance(payload, dict) or not isinstance(payload.get("images"), list):
        raise DataError(f"{split_file} is not a Karpathy split file: expected an object with an 'images' list")
    for position, entry in enumerate(payload["images"]):
        if not isinstance(entry, dict):
            raise DataError(f"{split_file}: images[{position}] is not an object")
        if entry.get("split") not in KARPATHY_SPLITS:
            raise DataError(f"{split_file}: images[{position}] has unknown split {entry.get('split')!r}; "
                            f"expected one of: {', '.join(KARPATHY_SPLITS)}")
    return payload["images"]


def _target_split(split: str, restval: str) -> str | None:
    if split != "restval":
        return split
    return "train" if restval == "train" else None


def load_karpathy(split_file: Path, image_root: Path | None = None, restval: str = "train",
                  name: str | None = None) -> CaptionDataset:
    """Read a data set described by one Karpathy split file (COCO, Flickr8k or Flickr30k).

    Images resolve to `image_root/filepath/filename`, or `image_root/filename` when an entry
    has no `filepath`. `image_root` defaults to the split file's folder. Image ids are the
    `cocoid`, else the `imgid`, else the position in the file.
    """
    check_restval(restval)
    split_file = Path(split_file)
    root = Path(image_root) if image_root else split_file.parent
    if not root.is_dir():
        raise DataError(f"image root not found: {root} is not a folder; set data.image_root to the folder that contains the images of {split_file.name}")
    entries = _karpathy_entries(split_file)
    dataset_name = name or _karpathy_name(split_file)

    splits: dict[str, list[ImageRecord]] = {s: [] for s in SPLITS}
    skipped: Counter[str] = Counter()
    seen: dict[int, int] = {}
    for position, entry in enumerate(entries):
        record = _karpathy_record(entry, position, root, split_file)
        if record.image_id in seen:
            raise DataError(f"{split_file}: images[{position}] repeats image id {record.image_id} of images[{seen[record.image_id]}]")
        seen[record.image_id] = position
        split = _target_split(entry["split"], restval)
        if not record.captions:
            skipped["images_without_captions"] += 1
        elif split is None:
            skipped["restval_images_dropped"] += 1
        else:
            splits[split].append(record)
    skipped.setdefault("images_without_captions", 0)
    folders = sorted({r.path.parent for records in splits.values() for r in records})
    return CaptionDataset(dataset_name, splits, [split_file, *folders], dict(skipped), {"restval": restval, "image_root": str(root.resolve())})


def _karpathy_record(entry: dict[str, Any], position: int, root: Path, split_file: Path) -> ImageRecord:
    filename = entry.get("filename")
    if not isinstance(filename, str) or not filename:
        raise DataError(f"{split_file}: images[{position}] has no 'filename'")
    folder = entry.get("filepath")
    path = root / folder / filename if isinstance(folder, str) and folder else root / filename
    image_id = entry.get("cocoid", entry.get("imgid", position))
    if not isinstance(image_id, int):
        raise DataError(f"{split_file}: images[{position}] has a non-integer image id {image_id!r}")
    sentences = entry.get("sentences", [])
    if not isinstance(sentences, list):
        raise DataError(f"{split_file}: images[{position}] 'sentences' is not a list")
    captions = []
    for sentence in sentences:
        raw = sentence.get("raw") if isinstance(sentence, dict) else None
        if not isinstance(raw, str):  # some files carry tokens only
            tokens = sentence.get("tokens") if isinstance(sentence, dict) else None
            if not isinstance(tokens, list):
                raise DataError(f"{split_file}: images[{position}] has a sentence with neither 'raw' nor 'tokens'")
            raw = " ".join(str(t) for t in tokens)
        captions.append(raw)
    return ImageRecord(image_id, path, captions, split_file)


def _karpathy_name(split_file: Path) -> str:
    stem = split_file.stem
    return stem[len("dataset_"):] if stem.startswith("dataset_") and len(stem) > len("dataset_") else "karpathy"


def check_images_exist(dataset: CaptionDataset) -> None:
    """Raise a DataError naming the first missing image files, their count and where they are listed."""
    missing = [r for records in dataset.splits.values() for r in records if not r.path.is_file()]
    if not missing:
        return
    shown = ", ".join(str(r.path) for r in missing[:MISSING_SHOWN])
    listed = sorted({str(r.listed_in) for r in missing if r.listed_in is not None})
    raise DataError(f"{len(missing)} image files listed in {', '.join(listed) or dataset.name} are missing, e.g. {shown}; "
                    f"check data.root (COCO layout) or data.image_root (Karpathy layout)")
