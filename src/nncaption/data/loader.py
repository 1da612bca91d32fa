"""Batches from a prepared cache. Runs inside the trial process; needs numpy and torch only."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from nncaption.contract import PAD_ID

# ImageNet channel statistics, the usual normalisation for COCO captioning encoders.
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def normalise(images: np.ndarray) -> torch.Tensor:
    """uint8 [B, 3, H, W] -> float32 [B, 3, H, W], normalised per channel."""
    return (torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0) - MEAN) / STD


class TrainBatches:
    """Shuffled training batches of (images [B, 3, H, W], captions [B, N, T]).

    Each epoch reshuffles the order of every image's references, so a model that reads
    only `captions[:, 0]` still sees all of them over the epochs. T is the longest
    caption in the batch, so padding costs little.
    """

    def __init__(self, cache: Path, batch_size: int, seed: int, refs_per_image: int = 5) -> None:
        cache = Path(cache)
        self.images = np.load(cache / "images_train.npy", mmap_mode="r")
        self.captions = np.load(cache / "captions_train.npy")
        self.ref_counts = np.load(cache / "ref_counts_train.npy")
        self.batch_size = batch_size
        self.seed = seed
        self.refs_per_image = refs_per_image
        self.epoch = 0

    def __len__(self) -> int:
        return (len(self.images) + self.batch_size - 1) // self.batch_size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.images))
        for start in range(0, len(order), self.batch_size):
            index = np.sort(order[start : start + self.batch_size])
            yield normalise(self.images[index]), self._captions(index, rng)

    def _captions(self, index: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        chosen = np.empty((len(index), self.refs_per_image, self.captions.shape[2]), dtype=np.int64)
        for row, i in enumerate(index):
            count = int(self.ref_counts[i])
            picks = rng.permutation(count)
            if count < self.refs_per_image:  # repeat references to fill N
                picks = np.concatenate([picks, rng.choice(count, self.refs_per_image - count)])
            chosen[row] = self.captions[i, picks[: self.refs_per_image]]
        length = int((chosen != PAD_ID).sum(axis=2).max())
        return torch.from_numpy(chosen[:, :, :length])


def eval_images(cache: Path, split: str, indices: Sequence[int] | None, batch_size: int) -> Iterator[tuple[list[int], torch.Tensor]]:
    """(image ids, images [B, 3, H, W]) of a val or test split, in array order."""
    cache = Path(cache)
    images = np.load(cache / f"images_{split}.npy", mmap_mode="r")
    image_ids = json.loads((cache / f"image_ids_{split}.json").read_text(encoding="utf-8"))
    order = np.arange(len(images)) if indices is None else np.asarray(sorted(indices))
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        yield [int(image_ids[i]) for i in index], normalise(images[index])
