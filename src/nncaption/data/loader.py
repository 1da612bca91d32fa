"""Batches from a prepared cache. Runs inside the trial process; needs numpy and torch only."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from nncaption.contract import PAD_ID

# ImageNet channel statistics, the usual normalisation for COCO captioning encoders.
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
_MEAN_255 = MEAN * 255.0
_INV_STD_255 = 1.0 / (STD * 255.0)
SPLITS = ("train", "val", "test")
PUT_WAIT_S = 0.1  # how often a blocked prefetch thread checks whether the consumer has gone


def normalise(images: np.ndarray) -> torch.Tensor:
    """uint8 [B, 3, H, W] -> float32 [B, 3, H, W], normalised per channel."""
    pixels = torch.from_numpy(np.ascontiguousarray(images)).float()  # [B, 3, H, W], 0..255
    return pixels.sub_(_MEAN_255).mul_(_INV_STD_255)


class TrainBatches:
    """Shuffled training batches of (images [B, 3, H, W], captions [B, N, T]).

    Each epoch reshuffles the order of every image's references, so a model that reads
    only `captions[:, 0]` still sees all of them over the epochs. T is the longest
    caption in the batch, so padding costs little. With `prefetch` > 0 a background
    thread prepares that many batches ahead while the model trains on the current one;
    the batches are the same as without it.
    """

    def __init__(self, cache: Path, batch_size: int, seed: int, refs_per_image: int = 5, prefetch: int = 2) -> None:
        cache = Path(cache)
        self.images = np.load(cache / "images_train.npy", mmap_mode="r")
        self.captions = np.load(cache / "captions_train.npy")
        self.ref_counts = np.load(cache / "ref_counts_train.npy")
        self.batch_size = batch_size
        self.seed = seed
        self.refs_per_image = refs_per_image
        self.prefetch = prefetch
        self.epoch = 0

    def __len__(self) -> int:
        return (len(self.images) + self.batch_size - 1) // self.batch_size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.prefetch <= 0:
            return self._batches()
        return _prefetched(self._batches(), self.prefetch)

    def _batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.images))
        for start in range(0, len(order), self.batch_size):
            index = np.sort(order[start : start + self.batch_size])  # sorted: sequential reads of the memory map
            yield normalise(self.images[index]), self._captions(index, rng)

    def _captions(self, index: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        """int64 [B, N, T]: each image's references in a fresh random order, repeated to fill N."""
        counts = self.ref_counts[index]  # [B]
        stored = self.captions.shape[1]

        # A random key per stored reference, padding slots last, so argsort shuffles the real ones.
        keys = rng.random((len(index), stored))
        keys[np.arange(stored)[None, :] >= counts[:, None]] = 2.0
        order = np.argsort(keys, axis=1)  # [B, R]

        # Column j takes the (j mod count)-th shuffled reference: all are used before any repeats.
        columns = np.arange(self.refs_per_image)[None, :] % counts[:, None]  # [B, N]
        picks = np.take_along_axis(order, columns, axis=1)
        chosen = self.captions[index[:, None], picks].astype(np.int64)  # [B, N, max_len + 2]
        length = int((chosen != PAD_ID).sum(axis=2).max())
        return torch.from_numpy(chosen[:, :, :length])


def _prefetched(batches: Iterator[tuple[torch.Tensor, torch.Tensor]], depth: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Run `batches` in a daemon thread, `depth` items ahead; re-raise its errors here.

    Abandoning the returned iterator (a `break`, or `next(iter(...))` once) stops the thread
    within PUT_WAIT_S once the iterator is closed or garbage-collected.
    """
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in batches:
                if not _put(items, item, stop):
                    return
            _put(items, done, stop)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            _put(items, exc, stop)

    thread = threading.Thread(target=produce, name="train-batches", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def _put(items: queue.Queue, item: object, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            items.put(item, timeout=PUT_WAIT_S)
            return True
        except queue.Full:
            continue
    return False


def eval_images(cache: Path, split: str, indices: Sequence[int] | None, batch_size: int) -> Iterator[tuple[list[int], torch.Tensor]]:
    """(image ids, images [B, 3, H, W]) of a val or test split, in array order."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of: {', '.join(SPLITS)}")
    cache = Path(cache)
    images = np.load(cache / f"images_{split}.npy", mmap_mode="r")
    image_ids = json.loads((cache / f"image_ids_{split}.json").read_text(encoding="utf-8"))
    order = np.arange(len(images)) if indices is None else np.asarray(sorted(indices), dtype=np.int64)
    if len(order) and (order[0] < 0 or order[-1] >= len(images)):
        raise ValueError(f"{split} indices must lie in 0..{len(images) - 1}, found {order[0]}..{order[-1]}")
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        yield [int(image_ids[i]) for i in index], normalise(images[index])
