"""Preprocess a caption data set once into a cache directory the trials read.

Layout of one prepared data set (a folder under the cache root, named by a key over the
source files' sizes and mtimes and the preprocessing settings):
    images_{split}.npy        uint8 [N, 3, S, S], memory-mapped by the loader
    image_ids_{split}.json    COCO image ids, in array order
    captions_train.npy        int32 [N, R, max_len + 2], <SOS> ... <EOS> then <PAD>
    ref_counts_train.npy      int32 [N], captions per training image (the rest of R is padding)
    references_{val,test}.json  raw reference captions, read by the parent only
    vocab.json, manifest.json (written last: a folder without it is never used)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from nncaption.contract import EOS_ID, PAD_ID, SOS_ID
from nncaption.data.sources import SPLITS, CaptionDataset, ImageRecord
from nncaption.data.vocab import Vocab
from nncaption.errors import DataError
from nncaption.metrics import best_constant_caption, tokenize

log = logging.getLogger(__name__)

CACHE_VERSION = 1
CONSTANT_CAPTION_CANDIDATES = 300  # most frequent training captions tried as the constant baseline
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class PrepareSettings:
    image_size: int
    max_len: int
    min_count: int


@dataclass
class PreparedData:
    """A ready cache folder and its manifest."""

    path: Path
    manifest: dict[str, Any]

    @property
    def vocab_size(self) -> int:
        return int(self.manifest["vocab_size"])

    def references(self, split: str) -> dict[int, list[str]]:
        raw = json.loads((self.path / f"references_{split}.json").read_text(encoding="utf-8"))
        return {int(k): v for k, v in raw.items()}

    def image_ids(self, split: str) -> list[int]:
        return json.loads((self.path / f"image_ids_{split}.json").read_text(encoding="utf-8"))


def cache_key(dataset: CaptionDataset, settings: PrepareSettings) -> str:
    """A key that changes when a source file or a preprocessing setting changes."""
    parts: list[Any] = [CACHE_VERSION, dataset.name, settings.image_size, settings.max_len, settings.min_count]
    for path in dataset.source_files:
        stat = path.stat()
        parts.append([str(path.resolve()), stat.st_size, stat.st_mtime_ns])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def prepare(dataset: CaptionDataset, cache_root: Path, settings: PrepareSettings, progress: Progress | None = None) -> PreparedData:
    """Return the prepared cache for `dataset`, building it first when it does not exist yet."""
    final = Path(cache_root).expanduser() / f"{dataset.name}-{cache_key(dataset, settings)}"
    if (final / "manifest.json").is_file():
        log.info("reusing the prepared data in %s", final)
        return PreparedData(final, json.loads((final / "manifest.json").read_text(encoding="utf-8")))

    building = final.with_name(final.name + f".building-{os.getpid()}")
    try:
        building.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the data cache folder {building}: {exc.strerror}; set data.cache_dir to a writable folder") from exc
    try:
        manifest = _build(dataset, building, settings, progress)
        (building / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        try:
            os.rename(building, final)
        except OSError:
            if not (final / "manifest.json").is_file():  # another process may have finished first
                raise
    finally:
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)
    log.info("prepared %s into %s", dataset.name, final)
    return PreparedData(final, manifest)


def _build(dataset: CaptionDataset, out: Path, settings: PrepareSettings, progress: Progress | None) -> dict[str, Any]:
    tokens = {s: [[tokenize(c) for c in r.captions] for r in dataset.splits[s]] for s in SPLITS}
    vocab = Vocab.build((t for caption_tokens in tokens["train"] for t in caption_tokens), settings.min_count)
    vocab.save(out / "vocab.json")

    manifest: dict[str, Any] = {"name": dataset.name, "version": CACHE_VERSION, "vocab_size": len(vocab),
                                "image_size": settings.image_size, "max_len": settings.max_len,
                                "skipped": dict(dataset.skipped), "unreadable_images": [], "splits": {}}
    for split in SPLITS:
        kept = _write_images(dataset.splits[split], split, out, settings.image_size, manifest, progress)
        records = [dataset.splits[split][i] for i in kept]
        (out / f"image_ids_{split}.json").write_text(json.dumps([r.image_id for r in records]), encoding="utf-8")
        if split == "train":
            cut = _write_train_captions([tokens[split][i] for i in kept], vocab, settings.max_len, out)
            manifest["captions_cut"] = cut
        else:
            references = {r.image_id: r.captions for r in records}
            (out / f"references_{split}.json").write_text(json.dumps(references), encoding="utf-8")
        manifest["splits"][split] = {"images": len(records), "captions": sum(len(r.captions) for r in records)}
        if not records:
            raise DataError(f"data set {dataset.name!r} has no usable images in split {split!r}")

    manifest["constant_caption"] = _constant_baseline(dataset, out, tokens["train"])
    return manifest


def _write_images(records: list[ImageRecord], split: str, out: Path, size: int, manifest: dict[str, Any], progress: Progress | None) -> list[int]:
    """Decode, convert to RGB and resize every image once; return the indices that were readable."""
    missing = [r.path for r in records if not r.path.is_file()]
    if missing:
        shown = ", ".join(str(p) for p in missing[:5])
        raise DataError(f"{len(missing)} image files of split {split!r} are missing, e.g. {shown}; check data.root or data.image_root")
    array = np.lib.format.open_memmap(out / f"images_{split}.npy", mode="w+", dtype=np.uint8, shape=(len(records), 3, size, size))
    kept = []
    for index, record in enumerate(records):
        try:
            with Image.open(record.path) as image:
                pixels = np.asarray(image.convert("RGB").resize((size, size), Image.BILINEAR))
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            manifest["unreadable_images"].append(f"{record.path}: {exc}")
            continue
        array[len(kept)] = pixels.transpose(2, 0, 1)
        kept.append(index)
        if progress is not None and (index % 200 == 0 or index == len(records) - 1):
            progress(f"images {split}", index + 1, len(records))
    array.flush()
    del array
    if len(kept) < len(records):
        _truncate_rows(out / f"images_{split}.npy", len(kept))
    return kept


def _truncate_rows(path: Path, rows: int) -> None:
    kept = np.load(path, mmap_mode="r")[:rows].copy()
    np.save(path, kept)


def _write_train_captions(token_lists: list[list[list[str]]], vocab: Vocab, max_len: int, out: Path) -> int:
    refs = max((len(t) for t in token_lists), default=1)
    captions = np.full((len(token_lists), refs, max_len + 2), PAD_ID, dtype=np.int32)
    counts = np.zeros(len(token_lists), dtype=np.int32)
    cut = 0
    for i, image_tokens in enumerate(token_lists):
        counts[i] = len(image_tokens)
        for j, tokens in enumerate(image_tokens):
            ids = vocab.encode(tokens)
            cut += len(ids) > max_len
            ids = [SOS_ID, *ids[:max_len], EOS_ID]
            captions[i, j, : len(ids)] = ids
    np.save(out / "captions_train.npy", captions)
    np.save(out / "ref_counts_train.npy", counts)
    return cut


def _constant_baseline(dataset: CaptionDataset, out: Path, train_tokens: list[list[list[str]]]) -> dict[str, Any]:
    """The training caption that scores the highest val BLEU-4 when emitted for every image."""
    counts = Counter(" ".join(t) for caption_tokens in train_tokens for t in caption_tokens)
    candidates = [c for c, _ in counts.most_common(CONSTANT_CAPTION_CANDIDATES)]
    val = json.loads((out / "references_val.json").read_text(encoding="utf-8"))
    test = json.loads((out / "references_test.json").read_text(encoding="utf-8"))
    caption, val_bleu4 = best_constant_caption(val, candidates)
    _, test_bleu4 = best_constant_caption(test, [caption])
    return {"caption": caption, "val_bleu4": val_bleu4, "test_bleu4": test_bleu4, "candidates": len(candidates)}
