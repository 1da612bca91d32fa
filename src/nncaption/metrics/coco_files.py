"""Readers for the COCO caption files that `nncaption score` takes.

Results: a JSON list of `{"image_id": ..., "caption": "..."}`, one entry per image (the
format the COCO evaluation server takes). Annotations: the COCO captions file, a JSON
object with `"annotations"` (entries with `"image_id"` and `"caption"`) and optionally
`"images"` (entries with `"id"`; an image listed without captions has no reference).
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from pathlib import Path
from typing import Any

from nncaption.errors import DataError

__all__ = ["load_annotations", "load_results"]


def _read_json(path: Path, what: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise DataError(f"{what} file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read {what} file {path} as UTF-8 JSON: {exc}") from exc


def _entry_field(entry: Any, key: str, index: int, path: Path) -> Any:
    if not isinstance(entry, dict) or key not in entry:
        raise DataError(f"{path}: entry {index} has no {key!r} field, found {str(entry)[:200]}")
    return entry[key]


def load_results(path: str | Path) -> dict[Hashable, str]:
    """Read a COCO results file into {image_id: caption}.

    Raises DataError for a file that is not a JSON list of objects with "image_id" and
    "caption", for a caption that is not a string and for two captions of one image.
    """
    path = Path(path)
    entries = _read_json(path, "results")
    if not isinstance(entries, list):
        raise DataError(
            f'{path}: expected a JSON list of {{"image_id", "caption"}} objects, '
            f"found a JSON {type(entries).__name__}"
        )

    hypotheses: dict[Hashable, str] = {}
    for index, entry in enumerate(entries):
        image_id = _entry_field(entry, "image_id", index, path)
        caption = _entry_field(entry, "caption", index, path)
        if not isinstance(caption, str):
            raise DataError(
                f"{path}: entry {index} (image {image_id!r}) has a caption of type "
                f"{type(caption).__name__}, expected a string"
            )
        if image_id in hypotheses:
            raise DataError(
                f"{path}: image {image_id!r} has two hypotheses ({hypotheses[image_id]!r} and "
                f"{caption!r}); keep one caption per image"
            )
        hypotheses[image_id] = caption
    return hypotheses


def load_annotations(path: str | Path) -> dict[Hashable, list[str]]:
    """Read a COCO captions annotation file into {image_id: [reference, ...]}."""
    path = Path(path)
    data = _read_json(path, "annotations")
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise DataError(
            f'{path}: expected a COCO captions file, a JSON object with an "annotations" list'
        )

    references: dict[Hashable, list[str]] = {}
    for index, image in enumerate(data.get("images") or []):
        references.setdefault(_entry_field(image, "id", index, path), [])
    for index, entry in enumerate(data["annotations"]):
        image_id = _entry_field(entry, "image_id", index, path)
        caption = _entry_field(entry, "caption", index, path)
        if not isinstance(caption, str):
            raise DataError(
                f"{path}: annotation {index} (image {image_id!r}) has a caption of type "
                f"{type(caption).__name__}, expected a string"
            )
        references.setdefault(image_id, []).append(caption)
    return references
