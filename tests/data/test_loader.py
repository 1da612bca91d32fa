import threading
import time

import numpy as np
import pytest
import torch
from tests.data.layouts import captions_for, default_items, write_coco

from nncaption.config import DataConfig
from nncaption.contract import EOS_ID, PAD_ID, SOS_ID
from nncaption.data.loader import MEAN, STD, TrainBatches, eval_images, normalise
from nncaption.data.prepare import prepare_data


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Train images 1..10 with five captions, image 3 with seven and image 4 with two."""
    tmp_path = tmp_path_factory.mktemp("loader")
    items = default_items(train=10, val=4, test=4)
    items[2].captions = [f"caption number {n} of seven" for n in range(7)]
    items[3].captions = captions_for(4, 2)
    write_coco(tmp_path / "coco", items)
    config = DataConfig(source="coco", root=str(tmp_path / "coco"), cache_dir=str(tmp_path / "cache"),
                        image_size=8, min_count=1, max_len=12)
    return prepare_data(config)


def _batches(prepared, batch_size=4, seed=0, epoch=0):
    loader = TrainBatches(prepared.path, batch_size, seed)
    loader.set_epoch(epoch)
    return list(loader)


def test_batch_shapes_and_tokens(prepared):
    loader = TrainBatches(prepared.path, 4, seed=0)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    images, captions = batches[0]
    assert images.dtype == torch.float32
    assert images.shape == (4, 3, 8, 8)
    assert captions.dtype == torch.int64
    assert captions.shape[:2] == (4, 5)
    assert (captions[:, :, 0] == SOS_ID).all()
    assert ((captions == EOS_ID).sum(dim=2) == 1).all()
    assert (captions[:, :, -1] != PAD_ID).any()  # T is the longest caption in the batch, no wider
    assert loader.images.shape == (10, 3, 8, 8)


def test_same_seed_same_batches(prepared):
    first, second = _batches(prepared, seed=3, epoch=2), _batches(prepared, seed=3, epoch=2)
    for (images_a, captions_a), (images_b, captions_b) in zip(first, second, strict=True):
        assert torch.equal(images_a, images_b)
        assert torch.equal(captions_a, captions_b)


def test_epochs_and_seeds_change_order(prepared):
    def first_images(seed, epoch):
        return _batches(prepared, seed=seed, epoch=epoch)[0][0]

    assert not torch.equal(first_images(0, 1), first_images(0, 2))
    assert not torch.equal(first_images(0, 1), first_images(1, 1))


def _first_reference_of(prepared, image_row, epochs):
    """The first-column caption of one training image in each epoch, as a tuple of ids."""
    seen = []
    loader = TrainBatches(prepared.path, 10, seed=0)  # one batch: rows come sorted by array index
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        _, captions = next(iter(loader))
        row = captions[image_row, 0]
        seen.append(tuple(row[row != PAD_ID].tolist()))
    return seen


def test_first_column_covers_all_references(prepared):
    assert len(set(_first_reference_of(prepared, 2, epochs=60))) == 7  # the image with seven captions
    assert len(set(_first_reference_of(prepared, 0, epochs=40))) == 5


def test_references_reshuffled_without_repeats(prepared):
    loader = TrainBatches(prepared.path, 10, seed=0)
    for epoch in range(5):
        loader.set_epoch(epoch)
        _, captions = next(iter(loader))
        seven = {tuple(r.tolist()) for r in captions[2]}
        assert len(seven) == 5  # five different references out of seven
        two = [tuple(r.tolist()) for r in captions[3]]
        assert len(set(two)) == 2  # both references are used before one repeats
        assert two[0] == two[2] == two[4]
        assert two[1] == two[3]


def test_refs_per_image_option(prepared):
    _, captions = next(iter(TrainBatches(prepared.path, 10, seed=0, refs_per_image=1)))
    assert captions.shape[:2] == (10, 1)


def test_normalise_per_channel():
    pixels = np.full((1, 3, 2, 2), 255, dtype=np.uint8)
    expected = ((1.0 - MEAN) / STD).expand(1, 3, 2, 2)
    assert torch.allclose(normalise(pixels), expected, atol=1e-5)


def test_eval_images_subset_and_ids(prepared):
    ids = prepared.image_ids("val")
    batches = list(eval_images(prepared.path, "val", [3, 0], batch_size=1))
    assert [b[0] for b in batches] == [[ids[0]], [ids[3]]]
    assert batches[0][1].shape == (1, 3, 8, 8)
    everything = list(eval_images(prepared.path, "test", None, batch_size=3))
    assert sum(len(b[0]) for b in everything) == 4
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        next(eval_images(prepared.path, "dev", None, 2))
    with pytest.raises(ValueError, match="0..3"):
        next(eval_images(prepared.path, "val", [4], 2))


def test_prefetch_gives_same_batches(prepared):
    for epoch in (1, 2):
        plain, ahead = TrainBatches(prepared.path, 3, 5, prefetch=0), TrainBatches(prepared.path, 3, 5, prefetch=2)
        plain.set_epoch(epoch)
        ahead.set_epoch(epoch)
        pairs = list(zip(plain, ahead, strict=True))
        assert len(pairs) == 4
        for (images_a, captions_a), (images_b, captions_b) in pairs:
            assert torch.equal(images_a, images_b)
            assert torch.equal(captions_a, captions_b)


def _prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "train-batches"]


def test_abandoned_iterator_stops_prefetch(prepared):
    loader = TrainBatches(prepared.path, 1, 0, prefetch=1)
    for _ in range(3):
        next(iter(loader))
    deadline = time.monotonic() + 5
    while _prefetch_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _prefetch_threads() == []


def test_prefetch_error_reaches_consumer(prepared, monkeypatch):
    loader = TrainBatches(prepared.path, 4, 0)

    def broken(index, rng):
        raise RuntimeError("caption array unreadable")

    monkeypatch.setattr(loader, "_captions", broken)
    with pytest.raises(RuntimeError, match="caption array unreadable"):
        list(loader)
