"""Preprocess a caption data set once into a cache directory the trials read.

Layout of one prepared data set (a folder under the cache root, named by a key over the
source files' sizes and mtimes, the loading options and the preprocessing settings):
    images_{split}.npy        uint8 [N, 3, S, S], memory-mapped by the loader
    image_ids_{split}.json    image ids, in array order
    captions_train.npy        int32 [N, R, max_len + 2], <SOS> ... <EOS> then <PAD>
    ref_counts_train.npy      int32 [N], captions per training image (the rest of R is padding)
    references_{val,test}.json  raw reference captions, read by the parent only
    vocab.json, manifest.json (written last: a folder without it is never used)

The folder is built under a temporary name and renamed into place when complete, so an
interrupted build never leaves a folder that looks ready.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from nncaption.contract import EOS_ID, PAD_ID, SOS_ID
from nncaption.data.images import Progress, write_images
from nncaption.data.sources import SPLITS, CaptionDataset, ImageRecord, check_images_exist
from nncaption.data.vocab import Vocab
from nncaption.errors import DataError
from nncaption.metrics import best_constant_caption, tokenize

log = logging.getLogger(__name__)

CACHE_VERSION = 3  # raise when preparation changes what a cache folder contains
CONSTANT_CAPTION_CANDIDATES = 300  # most frequent training captions tried as the constant baseline
UNREADABLE_LISTED = 1000  # unreadable images named in the manifest; all of them are counted
BUILDING_MARK = ".building-"
BRACKET_TOKENS = frozenset({"-lrb-", "-rrb-", "-lsb-", "-rsb-", "-lcb-", "-rcb-"})  # PTB tokens of ( ) [ ] { }

__all__ = ["CACHE_VERSION", "PrepareSettings", "PreparedData", "Progress", "building_path", "cache_key", "load_prepared",
           "prepare", "remove_abandoned_builds"]


@dataclass(frozen=True)
class PrepareSettings:
    image_size: int
    max_len: int
    min_count: int
    workers: int = 0  # image decoders; 0 means one per CPU. Not part of the cache key.
    decoder: str = "thread"  # "thread" or "process" pool. Not part of the cache key.


@dataclass
class PreparedData:
    """A ready cache folder and its manifest."""

    path: Path
    manifest: dict[str, Any]

    @property
    def vocab_size(self) -> int:
        return int(self.manifest["vocab_size"])

    def references(self, split: str) -> dict[int, list[str]]:
        if split not in ("val", "test"):
            raise DataError(f"references are stored for the val and test splits only, not {split!r}")
        raw = json.loads((self.path / f"references_{split}.json").read_text(encoding="utf-8"))
        return {int(k): v for k, v in raw.items()}

    def image_ids(self, split: str) -> list[int]:
        if split not in SPLITS:
            raise DataError(f"unknown split {split!r}; expected one of: {', '.join(SPLITS)}")
        return json.loads((self.path / f"image_ids_{split}.json").read_text(encoding="utf-8"))


def cache_key(dataset: CaptionDataset, settings: PrepareSettings) -> str:
    """Return a key that changes when a source file, a loading option or a preprocessing setting changes."""
    parts: list[Any] = [CACHE_VERSION, dataset.name, dataset.options, settings.image_size, settings.max_len, settings.min_count]
    for path in dataset.source_files:
        try:
            stat = path.stat()
        except FileNotFoundError:
            parts.append([str(path), "missing"])
            continue
        parts.append([str(path.resolve()), stat.st_size, stat.st_mtime_ns])
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def load_prepared(path: Path) -> PreparedData:
    """Open an existing prepared folder; a folder without a manifest is incomplete and rejected."""
    path = Path(path).expanduser()
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise DataError(f"{path} is not a prepared data folder: {manifest_path} is missing "
                        f"(an interrupted build leaves no manifest); prepare the data again")
    return PreparedData(path, json.loads(manifest_path.read_text(encoding="utf-8")))


def prepare(dataset: CaptionDataset, cache_root: Path, settings: PrepareSettings, progress: Progress | None = None) -> PreparedData:
    """Return the prepared cache for `dataset`, building it first when it does not exist yet."""
    final = Path(cache_root).expanduser() / f"{dataset.name}-{cache_key(dataset, settings)}"
    if (final / "manifest.json").is_file():
        log.info("reusing the prepared data in %s", final)
        return load_prepared(final)

    remove_abandoned_builds(final.parent)
    if final.exists():
        # Only a finished build is renamed into place, so this folder lost its manifest afterwards.
        log.warning("the prepared data folder %s has no manifest.json; removing it and preparing the data again", final)
        shutil.rmtree(final, ignore_errors=True)
    building = building_path(final)
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


def building_path(final: Path) -> Path:
    """Return the temporary folder that this process builds `final` in before renaming it."""
    return final.with_name(f"{final.name}{BUILDING_MARK}{os.getpid()}")


def remove_abandoned_builds(root: Path, name_prefix: str = "") -> None:
    """Delete the `NAME.building-PID` folders in `root` whose process no longer runs.

    A build stopped by SIGKILL, SIGTERM, an OOM kill or a power loss leaves such a folder
    behind. Every key's folders are removed, not only the key being built, so the space comes
    back even when the user drops the setting that made the large build. `name_prefix`
    limits the cleanup to folders whose name starts with it.
    """
    # NOTE: the check sees only this machine's processes, so a cache folder shared by several
    # hosts could lose another host's build in progress; that build then fails and can be rerun.
    if not root.is_dir():
        return
    for folder in root.glob(f"{name_prefix}*{BUILDING_MARK}*"):
        pid_text = folder.name.rsplit(BUILDING_MARK, 1)[1]
        if not folder.is_dir() or not pid_text.isdigit() or _process_alive(int(pid_text)):
            continue
        log.info("removing the abandoned partial build %s", folder)
        shutil.rmtree(folder, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _build(dataset: CaptionDataset, out: Path, settings: PrepareSettings, progress: Progress | None) -> dict[str, Any]:
    skipped = dict(dataset.skipped)
    splits, tokens = _tokenize_splits(dataset, skipped)
    check_images_exist(CaptionDataset(dataset.name, splits))
    vocab = Vocab.build((t for caption_tokens in tokens["train"] for t in caption_tokens), settings.min_count)
    vocab.save(out / "vocab.json")

    manifest: dict[str, Any] = {
        "name": dataset.name, "version": CACHE_VERSION, "vocab_size": len(vocab),
        "image_size": settings.image_size, "max_len": settings.max_len, "min_count": settings.min_count,
        "source": {"files": [str(p) for p in dataset.source_files], "options": dataset.options},
        "skipped": skipped, "unreadable_images": [], "splits": {}, "caption_lengths": {},
    }
    unreadable = 0
    kept_train_tokens: list[list[list[str]]] = []
    for split in SPLITS:
        records = splits[split]
        written = write_images([r.path for r in records], out / f"images_{split}.npy", settings.image_size,
                               settings.workers, settings.decoder, f"images {split}", progress)
        unreadable += len(written.unreadable)
        room = UNREADABLE_LISTED - len(manifest["unreadable_images"])
        manifest["unreadable_images"] += written.unreadable[: max(room, 0)]
        kept = [records[i] for i in written.kept]
        kept_tokens = [tokens[split][i] for i in written.kept]
        if not kept:
            raise DataError(f"data set {dataset.name!r} has no usable images in split {split!r} "
                            f"({len(records)} with a caption listed, {len(written.unreadable)} unreadable; in all "
                            f"splits {skipped.get('images_without_captions', 0)} images were left out for having no "
                            f"caption with a word, and {skipped.get('empty_captions', 0)} empty captions were dropped)")

        (out / f"image_ids_{split}.json").write_text(json.dumps([r.image_id for r in kept]), encoding="utf-8")
        if split == "train":
            kept_train_tokens = kept_tokens
            manifest["captions_cut"] = _write_train_captions(kept_tokens, vocab, settings.max_len, out)
        else:
            references = {r.image_id: r.captions for r in kept}
            (out / f"references_{split}.json").write_text(json.dumps(references), encoding="utf-8")
        manifest["splits"][split] = _split_counts(kept_tokens)
        manifest["caption_lengths"][split] = length_summary([len(t) for image in kept_tokens for t in image])

    manifest["skipped"]["unreadable_images"] = unreadable
    manifest["skipped"]["captions_cut"] = manifest["captions_cut"]
    manifest["constant_caption"] = _constant_baseline(out, kept_train_tokens)
    return manifest


def _tokenize_splits(dataset: CaptionDataset, skipped: dict[str, int]) -> tuple[dict[str, list[ImageRecord]],
                                                                                 dict[str, list[list[list[str]]]]]:
    """Tokenize every caption, dropping empty captions and images left without a caption.

    A caption is empty when no token contains a letter or digit: "", "   " and "!!! ... ,,,"
    are. Empty captions are counted in `skipped["empty_captions"]`, and an image whose captions
    are all empty is counted in `skipped["images_without_captions"]`. Returns the kept records
    and their tokens per split.
    """
    splits: dict[str, list[ImageRecord]] = {}
    tokens: dict[str, list[list[list[str]]]] = {}
    empty_captions = images_without_captions = 0
    for split in SPLITS:
        splits[split], tokens[split] = [], []
        for record in dataset.splits[split]:
            pairs = [(caption, caption_tokens) for caption in record.captions
                     if _has_word(caption_tokens := tokenize(caption))]
            empty_captions += len(record.captions) - len(pairs)
            if not pairs:
                images_without_captions += 1
                continue
            splits[split].append(replace(record, captions=[caption for caption, _ in pairs]))
            tokens[split].append([caption_tokens for _, caption_tokens in pairs])
    skipped["images_without_captions"] = skipped.get("images_without_captions", 0) + images_without_captions
    skipped["empty_captions"] = empty_captions
    return splits, tokens


def _has_word(tokens: list[str]) -> bool:
    return any(token not in BRACKET_TOKENS and any(char.isalnum() for char in token) for token in tokens)


def _split_counts(token_lists: list[list[list[str]]]) -> dict[str, Any]:
    per_image = [len(t) for t in token_lists]
    return {"images": len(per_image), "captions": sum(per_image),
            "references_per_image": {str(n): c for n, c in sorted(Counter(per_image).items())}}


def length_summary(lengths: list[int]) -> dict[str, Any]:
    """Min, mean, percentiles, max and a histogram of caption lengths in tokens."""
    if not lengths:
        return {"count": 0}
    values = np.asarray(lengths)
    return {"count": int(values.size), "min": int(values.min()), "mean": round(float(values.mean()), 2),
            "p50": int(np.percentile(values, 50)), "p95": int(np.percentile(values, 95)),
            "p99": int(np.percentile(values, 99)), "max": int(values.max()),
            "histogram": {str(n): c for n, c in sorted(Counter(lengths).items())}}


def _write_train_captions(token_lists: list[list[list[str]]], vocab: Vocab, max_len: int, out: Path) -> int:
    """Write the padded id arrays; return how many captions were cut to `max_len` tokens."""
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


def _constant_baseline(out: Path, train_tokens: list[list[list[str]]]) -> dict[str, Any]:
    """Find the training caption that scores the highest val BLEU-4 when emitted for every image."""
    counts = Counter(" ".join(t) for caption_tokens in train_tokens for t in caption_tokens)
    candidates = [c for c, _ in counts.most_common(CONSTANT_CAPTION_CANDIDATES)]
    val = json.loads((out / "references_val.json").read_text(encoding="utf-8"))
    test = json.loads((out / "references_test.json").read_text(encoding="utf-8"))
    caption, val_bleu4 = best_constant_caption(val, candidates)
    _, test_bleu4 = best_constant_caption(test, [caption])
    return {"caption": caption, "val_bleu4": val_bleu4, "test_bleu4": test_bleu4, "candidates": len(candidates)}
