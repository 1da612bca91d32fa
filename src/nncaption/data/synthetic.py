"""The built-in synthetic captioning set, written in the real COCO layout.

Each image is a scene of one to three coloured shapes on a noisy background, placed in
the cells of a 3x3 grid. Each image gets five captions from a small grammar with
synonyms, several sentence forms, spatial relations ("to the left of", "above") and
counts. Colour must be bound to the right shape and position, so a model that pools the
image into one vector loses information that a model with spatial features keeps.

Output layout (what `nncaption.data.coco` reads for real COCO):
    annotations/captions_train2017.json, annotations/captions_val2017.json,
    train2017/*.png, val2017/*.png, dataset_synthetic.json (Karpathy-style splits).
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from nncaption.config import check_synthetic_values
from nncaption.data.cache import BUILDING_MARK, building_path, remove_abandoned_builds
from nncaption.errors import DataError

log = logging.getLogger(__name__)

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 190, 60),
    "blue": (50, 90, 230),
    "yellow": (235, 220, 50),
    "white": (240, 240, 240),
    "purple": (160, 60, 200),
}
SHAPES = ("circle", "square", "triangle", "cross")
SIZES = ("small", "large")
ROWS = ("top", "middle", "bottom")
COLUMNS = ("left", "center", "right")

# Synonyms with their sampling weights: the first word is the most common one.
SIZE_WORDS = {"small": (("small", 6), ("little", 3), ("tiny", 1)), "large": (("large", 6), ("big", 4))}
SHAPE_PLURALS = {"circle": "circles", "square": "squares", "triangle": "triangles", "cross": "crosses"}
COUNT_WORDS = {1: "one", 2: "two", 3: "three"}
TRAIN_FRACTION = 0.8  # of all images; the rest is val2017, split in half into val and test
MARKER_FILE = "dataset_synthetic.json"  # written last: a folder with it is a complete synthetic set
SET_ENTRIES = frozenset({"annotations", "train2017", "val2017", MARKER_FILE})
ENTRIES_SHOWN = 5  # folder entries named in an error message


@dataclass(frozen=True)
class SceneObject:
    shape: str
    colour: str
    size: str
    row: int
    column: int


# --- scenes and images -------------------------------------------------------------------


def sample_scene(rng: random.Random) -> list[SceneObject]:
    """Sample one to three objects in distinct grid cells, sorted in reading order."""
    count = rng.choices((1, 2, 3), weights=(3, 4, 3))[0]
    cells = rng.sample(range(9), count)
    objects = [
        SceneObject(rng.choice(SHAPES), rng.choice(list(COLOURS)), rng.choice(SIZES), cell // 3, cell % 3)
        for cell in cells
    ]
    return sorted(objects, key=lambda o: (o.row, o.column))


def render_scene(objects: list[SceneObject], size: int, rng: random.Random) -> Image.Image:
    """Draw the scene on a dark, noisy background."""
    base = rng.randint(10, 60)
    noise = np.random.default_rng(rng.getrandbits(32)).integers(-12, 13, (size, size, 3))
    pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(image)
    cell = size / 3
    for obj in objects:
        radius = cell * (0.27 if obj.size == "small" else 0.45)
        jitter = cell / 2 - radius
        cx = (obj.column + 0.5) * cell + rng.uniform(-jitter, jitter) * 0.6
        cy = (obj.row + 0.5) * cell + rng.uniform(-jitter, jitter) * 0.6
        _draw_shape(draw, obj.shape, cx, cy, radius, COLOURS[obj.colour])
    return image


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, fill: tuple[int, int, int]) -> None:
    if shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif shape == "square":
        side = r * 0.85
        draw.rectangle((cx - side, cy - side, cx + side, cy + side), fill=fill)
    elif shape == "triangle":
        points = [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)]
        draw.polygon(points, fill=fill)
    elif shape == "cross":
        arm = r * 0.35
        draw.rectangle((cx - r, cy - arm, cx + r, cy + arm), fill=fill)
        draw.rectangle((cx - arm, cy - r, cx + arm, cy + r), fill=fill)
    else:
        raise ValueError(f"unknown shape {shape!r}")


# --- captions ----------------------------------------------------------------------------


def _weighted(rng: random.Random, options: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([w for w, _ in options], weights=[n for _, n in options])[0]


def _noun_phrase(obj: SceneObject, rng: random.Random, with_size: bool) -> str:
    words = [_weighted(rng, SIZE_WORDS[obj.size])] if with_size else []
    return " ".join(["a", *words, obj.colour, obj.shape])


def _place(obj: SceneObject, rng: random.Random) -> str:
    row, column = ROWS[obj.row], COLUMNS[obj.column]
    if row == "middle" and column == "center":
        return rng.choice(("in the center", "in the middle"))
    if row == "middle":
        return f"on the {column}"
    if column == "center":
        return f"at the {row}"
    return rng.choice((f"in the {row} {column} corner", f"at the {row} {column}"))


def _relation(a: SceneObject, b: SceneObject, rng: random.Random) -> str:
    """Return the phrase that places a relative to b ("to the left of", "above", ...)."""
    options = []
    if a.column != b.column:
        side = "left" if a.column < b.column else "right"
        options.append(rng.choice((f"to the {side} of", f"{side} of")))
    if a.row != b.row:
        options.append(rng.choice(("above", "over")) if a.row < b.row else rng.choice(("below", "under")))
    return rng.choice(options)


def _count_phrase(objects: list[SceneObject]) -> str:
    shapes = {o.shape for o in objects}
    if len(objects) > 1 and len(shapes) == 1:
        return f"{COUNT_WORDS[len(objects)]} {SHAPE_PLURALS[objects[0].shape]}"
    return f"{COUNT_WORDS[len(objects)]} shapes" if len(objects) > 1 else "one shape"


def _one_object(objects: list[SceneObject], rng: random.Random) -> list[Callable[[], str]]:
    (a,) = objects
    size = lambda: _weighted(rng, SIZE_WORDS[a.size])  # noqa: E731
    return [
        lambda: f"{_noun_phrase(a, rng, True)} {_place(a, rng)}",
        lambda: f"{_noun_phrase(a, rng, False)} {_place(a, rng)}",
        lambda: f"one {size()} {a.colour} {a.shape} {_place(a, rng)}",
        lambda: f"a single {size()} {a.shape} colored {a.colour} {_place(a, rng)}",
        lambda: f"{size()} {a.colour} {a.shape} {_place(a, rng)} of the image",
    ]


def _two_objects(objects: list[SceneObject], rng: random.Random) -> list[Callable[[], str]]:
    a, b = objects

    def np(obj: SceneObject, with_size: bool = True) -> str:
        return _noun_phrase(obj, rng, with_size)

    return [
        lambda: f"{np(a)} {_relation(a, b, rng)} {np(b)}",
        lambda: f"{np(b, False)} {_relation(b, a, rng)} {np(a, False)}",
        lambda: f"{np(a, False)} and {np(b, False)}",
        lambda: f"{_count_phrase(objects)}: {np(a)} and {np(b)}",
        lambda: f"{np(a, False)} {_place(a, rng)} and {np(b, False)} {_place(b, rng)}",
    ]


def _three_objects(objects: list[SceneObject], rng: random.Random) -> list[Callable[[], str]]:
    a, b, c = objects

    def np(obj: SceneObject, with_size: bool = True) -> str:
        return _noun_phrase(obj, rng, with_size)

    return [
        lambda: f"{np(a, False)}, {np(b, False)} and {np(c, False)}",
        lambda: f"{_count_phrase(objects)}: {np(a)}, {np(b)} and {np(c)}",
        lambda: f"{np(a)} {_relation(a, b, rng)} {np(b)} and {np(c, False)}",
        lambda: f"{np(c, False)} {_relation(c, a, rng)} {np(a, False)} and {np(b, False)}",
        lambda: f"{np(a, False)} {_place(a, rng)}, {np(b, False)} {_place(b, rng)} and {np(c, False)} {_place(c, rng)}",
    ]


def describe_scene(objects: list[SceneObject], rng: random.Random, count: int = 5) -> list[str]:
    """`count` captions, each from a different sentence form while forms last."""
    forms = (_one_object, _two_objects, _three_objects)[len(objects) - 1](objects, rng)
    order = rng.sample(range(len(forms)), len(forms))
    captions = [forms[order[i % len(forms)]]() for i in range(count)]
    return [caption[0].upper() + caption[1:] + "." for caption in captions]


# --- writing the data set ------------------------------------------------------------------


def write_synthetic(out: Path, images: int = 3000, size: int = 64, seed: int = 0) -> dict[str, int]:
    """Write the synthetic set to `out` in COCO layout and return image counts per split.

    The set is written into the temporary sibling folder `OUT.building-PID` and renamed to
    `out` when complete, so an interrupted write never leaves a partial set under the final
    name. A later call removes such a folder once its process has ended. `out` may be missing,
    an empty folder or an earlier synthetic set, which is replaced as a whole. Any other
    non-empty folder is rejected before anything is written.
    """
    check_synthetic_values(images, size, "the synthetic image count", "the synthetic image side")
    out = Path(out)
    replace = _contains_earlier_set(out)
    remove_abandoned_builds(out.parent, out.name)
    building = building_path(out)
    _remove_own_leftover(building)
    try:
        counts = _write_set(building, images, size, seed)
        _install(building, out, replace)
    finally:
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)
    log.debug("wrote the synthetic set to %s: %s", out, counts)
    return counts


def _write_set(out: Path, images: int, size: int, seed: int) -> dict[str, int]:
    """Write every file of the set into the new folder `out`, with dataset_synthetic.json last."""
    try:
        for folder in ("annotations", "train2017", "val2017"):
            (out / folder).mkdir(parents=True)
    except OSError as exc:
        raise DataError(f"cannot create the data set folders under {out}: {exc.strerror}") from exc

    rng = random.Random(seed)
    train_count = int(images * TRAIN_FRACTION)
    val_count = images - train_count
    records = {"train2017": [], "val2017": []}
    karpathy = []
    for image_id in range(1, images + 1):
        folder = "train2017" if image_id <= train_count else "val2017"
        objects = sample_scene(rng)
        file_name = f"{image_id:012d}.png"
        render_scene(objects, size, rng).save(out / folder / file_name, compress_level=1)
        captions = describe_scene(objects, rng)
        records[folder].append((image_id, file_name, captions))
        if folder == "train2017":
            split = "train"
        elif image_id <= train_count + val_count // 2:
            split = "val"
        else:
            split = "test"
        karpathy.append(_karpathy_entry(image_id, folder, file_name, captions, split))

    for folder, items in records.items():
        _write_json(out / "annotations" / f"captions_{folder}.json", _coco_captions(items, size, folder))
    _write_json(out / MARKER_FILE, {"dataset": "synthetic", "images": karpathy})
    return {s: sum(1 for e in karpathy if e["split"] == s) for s in ("train", "val", "test")}


def _contains_earlier_set(out: Path) -> bool:
    """Return True when `out` contains an earlier synthetic set to replace, False when it is missing or empty.

    Raise DataError when `out` is a file or contains anything else, so no user file is deleted.
    """
    if not out.exists():
        return False
    if not out.is_dir():
        raise DataError(f"{out} is a file, not a folder; choose an empty or new --out folder")
    entries = sorted(path.name for path in out.iterdir())
    if not entries:
        return False
    listing = ", ".join(entries[:ENTRIES_SHOWN]) + (", ..." if len(entries) > ENTRIES_SHOWN else "")
    if MARKER_FILE not in entries:
        raise DataError(f"{out} already contains files ({listing}) but no {MARKER_FILE}, so it is not a synthetic set "
                        "this command may replace; choose an empty or new --out folder")
    others = [name for name in entries if name not in SET_ENTRIES]
    if others:
        raise DataError(f"{out} contains an earlier synthetic set and also {', '.join(others[:ENTRIES_SHOWN])}, "
                        "which replacing the set would delete; move them away or choose an empty or new --out folder")
    log.info("replacing the earlier synthetic set in %s", out)
    return True


def _install(building: Path, out: Path, replace: bool) -> None:
    """Rename the finished folder `building` to `out`, moving an earlier set in `out` aside first."""
    replaced = out.with_name(f"{out.name}.replaced{BUILDING_MARK}{os.getpid()}")
    _remove_own_leftover(replaced)
    try:
        if replace:
            os.rename(out, replaced)
        os.rename(building, out)  # POSIX rename also replaces an empty folder
    except OSError as exc:
        if replace and replaced.exists() and not out.exists():
            os.rename(replaced, out)  # put the earlier set back
        elif not replace and (out / MARKER_FILE).is_file():
            log.info("%s was written by another process meanwhile; keeping that set", out)
            return
        raise DataError(f"cannot rename {building} to {out}: {exc.strerror}; remove {out} or choose another "
                        "--out folder") from exc
    shutil.rmtree(replaced, ignore_errors=True)


def _remove_own_leftover(folder: Path) -> None:
    """Delete `folder`, named with this process's PID, when a killed earlier process of the same PID left it.

    Containers often start the program under the same PID each time, so the PID check of
    `remove_abandoned_builds` counts such a folder as in use.
    """
    if folder.exists():
        log.info("removing the leftover folder %s of an earlier process with this PID", folder)
        shutil.rmtree(folder, ignore_errors=True)


def _coco_captions(items: list[tuple[int, str, list[str]]], size: int, folder: str) -> dict:
    images, annotations = [], []
    for image_id, file_name, captions in items:
        images.append({"id": image_id, "file_name": file_name, "width": size, "height": size})
        for caption in captions:
            annotations.append({"id": image_id * 10 + len(annotations) % 10, "image_id": image_id, "caption": caption})
    for index, annotation in enumerate(annotations, start=1):
        annotation["id"] = index
    info = {"description": f"nncaption synthetic shapes ({folder})", "version": "1"}
    return {"info": info, "licenses": [], "images": images, "annotations": annotations}


def _karpathy_entry(image_id: int, folder: str, file_name: str, captions: list[str], split: str) -> dict:
    sentences = [
        {"raw": c, "tokens": c.rstrip(".").lower().split(), "imgid": image_id - 1, "sentid": (image_id - 1) * 5 + i}
        for i, c in enumerate(captions)
    ]
    return {
        "filepath": folder,
        "filename": file_name,
        "imgid": image_id - 1,
        "cocoid": image_id,
        "split": split,
        "sentences": sentences,
        "sentids": [s["sentid"] for s in sentences],
    }


def _write_json(path: Path, payload: dict) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(payload), encoding="utf-8")
    os.replace(temporary, path)
