"""Write tiny caption data sets in the COCO and Karpathy layouts, with broken images on request."""

from __future__ import annotations

import io
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

COLOURS = {"red": (200, 30, 30), "green": (30, 180, 40), "blue": (40, 60, 220), "yellow": (230, 220, 40)}
SHAPES = ("dog", "cat", "boat", "kite")
BROKEN_KINDS = ("corrupt", "truncated", "empty")


@dataclass
class Item:
    image_id: int
    kind: str = "rgb"  # rgb | gray | cmyk | palette | rgba | corrupt | truncated | empty
    captions: list[str] = field(default_factory=list)
    split: str = "train"  # Karpathy split: train | restval | val | test

    @property
    def file_name(self) -> str:
        suffix = ".png" if self.kind in ("palette", "rgba") else ".jpg"
        return f"{self.image_id:012d}{suffix}"


def colour_of(image_id: int) -> tuple[int, int, int]:
    return list(COLOURS.values())[image_id % len(COLOURS)]


def captions_for(image_id: int, count: int = 5) -> list[str]:
    """`count` captions naming the image's colour, with some variety in the wording."""
    colour = list(COLOURS)[image_id % len(COLOURS)]
    shape = SHAPES[(image_id // len(COLOURS)) % len(SHAPES)]
    forms = ["A {c} {s} on the grass.", "a {c} {s} in a field", "There is a {c} {s} here.",
             "The {s} is {c}.", "a photo of a {c} {s}", "One {c} {s} near a tree.", "a small {c} {s}"]
    return [forms[i % len(forms)].format(c=colour, s=shape) for i in range(count)]


def write_image(path: Path, kind: str, image_id: int, size: tuple[int, int] = (40, 30)) -> None:
    """Write one image file of the given kind; broken kinds write bytes that do not decode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    colour = colour_of(image_id)
    if kind == "rgb":
        Image.new("RGB", size, colour).save(path, "JPEG", quality=95)
    elif kind == "gray":
        Image.new("L", size, 128).save(path, "JPEG", quality=95)
    elif kind == "cmyk":
        Image.new("RGB", size, colour).convert("CMYK").save(path, "JPEG", quality=95)
    elif kind == "palette":
        Image.new("RGB", size, colour).convert("P", palette=Image.ADAPTIVE, colors=4).save(path, "PNG")
    elif kind == "rgba":
        Image.new("RGBA", size, (*colour, 90)).save(path, "PNG")
    elif kind == "corrupt":
        path.write_bytes(random.Random(image_id).randbytes(700))
    elif kind == "truncated":
        buffer = io.BytesIO()
        noise = Image.effect_noise(size, 60).convert("RGB")
        noise.save(buffer, "JPEG", quality=95)
        path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        raise ValueError(f"unknown image kind {kind!r}")


def default_items(train: int = 12, val: int = 4, test: int = 4, start: int = 1) -> list[Item]:
    """Plain RGB items with five captions each: `train` train images, then val and test."""
    items = []
    for offset, split in enumerate(["train"] * train + ["val"] * val + ["test"] * test):
        image_id = start + offset
        items.append(Item(image_id, "rgb", captions_for(image_id), split))
    return items


def write_coco(root: Path, items: list[Item], year: int = 2017, split_file: bool = False) -> Path:
    """Write annotations/captions_{train,val}YEAR.json and the image folders; train items go to
    trainYEAR/, the others to valYEAR/. Optionally also a Karpathy dataset_coco.json."""
    folders = {"train": f"train{year}", "val": f"val{year}"}
    payloads = {part: {"info": {}, "images": [], "annotations": []} for part in folders}
    for item in items:
        part = "train" if item.split in ("train", "restval") else "val"
        write_image(root / folders[part] / item.file_name, item.kind, item.image_id)
        payloads[part]["images"].append({"id": item.image_id, "file_name": item.file_name, "width": 40, "height": 30})
        for caption in item.captions:
            annotation_id = len(payloads[part]["annotations"]) + 1
            payloads[part]["annotations"].append({"id": annotation_id, "image_id": item.image_id, "caption": caption})
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    for part, payload in payloads.items():
        (root / "annotations" / f"captions_{part}{year}.json").write_text(json.dumps(payload))
    if split_file:
        entries = [_karpathy_entry(item, folders["train" if item.split in ("train", "restval") else "val"], True)
                   for item in items]
        (root / "dataset_coco.json").write_text(json.dumps({"dataset": "coco", "images": entries}))
    return root


def write_flickr(root: Path, items: list[Item], name: str = "flickr8k") -> Path:
    """Write a Flickr-style Karpathy split file (no `filepath`, no `cocoid`) and its image folder.

    Images go to root/Images/, the split file to root/dataset_NAME.json; return the split file.
    """
    for item in items:
        write_image(root / "Images" / item.file_name, item.kind, item.image_id)
    entries = [_karpathy_entry(item, None, False) for item in items]
    path = root / f"dataset_{name}.json"
    path.write_text(json.dumps({"dataset": name, "images": entries}))
    return path


def _karpathy_entry(item: Item, folder: str | None, coco: bool) -> dict:
    sentences = [{"raw": c, "tokens": c.lower().rstrip(".").split(), "imgid": item.image_id, "sentid": i}
                 for i, c in enumerate(item.captions)]
    entry = {"filename": item.file_name, "imgid": item.image_id, "split": item.split, "sentences": sentences,
             "sentids": [s["sentid"] for s in sentences]}
    if folder is not None:
        entry["filepath"] = folder
    if coco:
        entry["cocoid"] = item.image_id
    return entry
