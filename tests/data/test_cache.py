import json
import os
import subprocess
import sys

import numpy as np
import pytest
from tests.data.layouts import (
    BROKEN_KINDS,
    Item,
    captions_for,
    colour_of,
    default_items,
    write_coco,
    write_flickr,
)

from nncaption.config import DataConfig
from nncaption.contract import EOS_ID, PAD_ID, SOS_ID, SPECIAL_TOKENS, UNK_ID
from nncaption.data import cache as cache_module
from nncaption.data.cache import load_prepared
from nncaption.data.images import decode_image, write_images
from nncaption.data.prepare import prepare_data
from nncaption.data.vocab import Vocab
from nncaption.errors import DataError


def _coco_config(root, tmp_path, **overrides):
    values = {"source": "coco", "root": str(root), "cache_dir": str(tmp_path / "cache"), "image_size": 8, "min_count": 1}
    values.update(overrides)
    return DataConfig(**values)


@pytest.fixture
def messy_coco(tmp_path):
    """A COCO-layout set with every broken and unusual image kind, 0 and 7 captions."""
    items = default_items(train=10, val=3, test=3)
    for index, kind in enumerate(("gray", "cmyk", "palette", "rgba", *BROKEN_KINDS)):
        items[index].kind = kind
    items[7].captions = []
    items[8].captions = captions_for(9, 7)
    items[9].captions = captions_for(10, 2)
    return write_coco(tmp_path / "coco", items), items


def test_broken_images_skipped_and_listed(messy_coco, tmp_path):
    root, items = messy_coco
    prepared = prepare_data(_coco_config(root, tmp_path))
    manifest = prepared.manifest

    assert manifest["skipped"]["unreadable_images"] == 3
    assert manifest["skipped"]["images_without_captions"] == 1
    listed = "\n".join(manifest["unreadable_images"])
    for item in items[4:7]:
        assert item.file_name in listed
    train_ids = prepared.image_ids("train")
    assert train_ids == [1, 2, 3, 4, 9, 10]
    assert manifest["splits"]["train"]["images"] == 6
    images = np.load(prepared.path / "images_train.npy")
    assert images.shape == (6, 3, 8, 8)
    assert images.dtype == np.uint8


def test_image_modes_become_rgb(messy_coco, tmp_path):
    root, items = messy_coco
    prepared = prepare_data(_coco_config(root, tmp_path))
    images = np.load(prepared.path / "images_train.npy")  # rows: gray, cmyk, palette, rgba, 9, 10

    assert np.abs(images[0].astype(int) - 128).max() <= 2  # gray 128 -> (128, 128, 128)
    for row, image_id in ((1, 2), (2, 3), (3, 4), (4, 9)):
        expected = np.array(colour_of(image_id)).reshape(3, 1, 1)
        assert np.abs(images[row].astype(int) - expected).max() <= 12, image_id


@pytest.mark.parametrize("kind", BROKEN_KINDS)
def test_decode_reports_broken_kind(tmp_path, kind):
    from tests.data.layouts import write_image

    write_image(tmp_path / "x.jpg", kind, 1)
    result = decode_image(str(tmp_path / "x.jpg"), 8)
    assert isinstance(result, str)
    assert result


def test_train_captions_padded_and_cut(messy_coco, tmp_path):
    root, _ = messy_coco
    prepared = prepare_data(_coco_config(root, tmp_path, max_len=4))
    captions = np.load(prepared.path / "captions_train.npy")
    counts = np.load(prepared.path / "ref_counts_train.npy")

    assert captions.shape == (6, 7, 6)  # 7 references stored for the image with 7 captions
    assert counts.tolist() == [5, 5, 5, 5, 7, 2]
    assert (captions[:, :, 0][np.arange(7)[None, :] < counts[:, None]] == SOS_ID).all()
    assert (captions[5, 2:] == PAD_ID).all()
    # Every stored caption ends with <EOS>, the ones cut to four tokens too.
    for image, count in zip(captions, counts, strict=True):
        for row in image[:count]:
            assert EOS_ID in row.tolist()
            assert row.tolist().index(EOS_ID) <= 5
    assert prepared.manifest["captions_cut"] > 0
    assert prepared.manifest["skipped"]["captions_cut"] == prepared.manifest["captions_cut"]


def test_vocab_min_count_default_five(tmp_path):
    items = default_items(train=6, val=1, test=1)
    items[0].captions = ["a zebra stands"] + captions_for(1, 4)
    write_coco(tmp_path / "coco", items)
    prepared = prepare_data(_coco_config(tmp_path / "coco", tmp_path, min_count=5))
    vocab = Vocab.load(prepared.path / "vocab.json")
    assert vocab.itos[:4] == list(SPECIAL_TOKENS)
    assert vocab.stoi["<PAD>"] == PAD_ID
    assert vocab.stoi["<UNK>"] == UNK_ID
    assert "zebra" not in vocab.stoi
    assert "a" in vocab.stoi
    assert prepared.vocab_size == len(vocab)
    assert DataConfig().min_count == 5


def test_references_and_lengths(messy_coco, tmp_path):
    root, items = messy_coco
    prepared = prepare_data(_coco_config(root, tmp_path))
    assert prepared.references("val") == {i.image_id: i.captions for i in items[10:13]}
    assert list(prepared.references("test")) == [14, 15, 16]
    with pytest.raises(DataError, match="val and test"):
        prepared.references("train")
    with pytest.raises(DataError, match="unknown split 'dev'"):
        prepared.image_ids("dev")
    lengths = prepared.manifest["caption_lengths"]["train"]
    assert lengths["count"] == 5 * 4 + 7 + 2
    assert lengths["min"] >= 3
    assert lengths["max"] <= 7


def test_cache_reused(messy_coco, tmp_path, monkeypatch):
    root, _ = messy_coco
    first = prepare_data(_coco_config(root, tmp_path))
    monkeypatch.setattr(cache_module, "_build", lambda *a: pytest.fail("the cache was rebuilt"))
    second = prepare_data(_coco_config(root, tmp_path, workers=1))
    assert second.path == first.path
    assert second.manifest == first.manifest


def test_cache_without_manifest_rebuilt(messy_coco, tmp_path):
    root, _ = messy_coco
    first = prepare_data(_coco_config(root, tmp_path))
    (first.path / "manifest.json").unlink()

    second = prepare_data(_coco_config(root, tmp_path))

    assert second.path == first.path
    assert second.manifest == first.manifest
    assert (second.path / "manifest.json").is_file()


def test_cache_rebuilt_when_source_changes(messy_coco, tmp_path):
    root, _ = messy_coco
    first = prepare_data(_coco_config(root, tmp_path))
    annotations = root / "annotations" / "captions_train2017.json"
    payload = json.loads(annotations.read_text())
    payload["annotations"].append({"id": 999, "image_id": 1, "caption": "a grey square"})
    annotations.write_text(json.dumps(payload))
    second = prepare_data(_coco_config(root, tmp_path))
    assert second.path != first.path
    assert second.manifest["splits"]["train"]["captions"] == first.manifest["splits"]["train"]["captions"] + 1

    os.utime(annotations, ns=(1, 1))  # same content, other mtime
    assert prepare_data(_coco_config(root, tmp_path)).path not in (first.path, second.path)


def test_cache_rebuilt_when_settings_change(messy_coco, tmp_path):
    root, _ = messy_coco
    paths = {prepare_data(_coco_config(root, tmp_path, **change)).path
             for change in ({}, {"image_size": 12}, {"max_len": 3}, {"min_count": 2})}
    assert len(paths) == 4
    assert load_prepared(sorted(paths)[0]).manifest["version"] == cache_module.CACHE_VERSION


def test_interrupted_build_leaves_nothing_usable(messy_coco, tmp_path, monkeypatch):
    root, _ = messy_coco
    config = _coco_config(root, tmp_path)

    def interrupt(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_module, "_constant_baseline", interrupt)
    with pytest.raises(KeyboardInterrupt):
        prepare_data(config)
    assert list((tmp_path / "cache").iterdir()) == []
    monkeypatch.undo()
    assert (prepare_data(config).path / "manifest.json").is_file()


def test_killed_build_folder_removed(messy_coco, tmp_path):
    root, _ = messy_coco
    config = _coco_config(root, tmp_path)
    # A build killed mid-way leaves its temporary folder behind, without a manifest.
    script = ("import os, sys\nfrom nncaption.config import DataConfig\nfrom nncaption.data import cache\n"
              "from nncaption.data.prepare import prepare_data\n"
              "cache._constant_baseline = lambda *a: os._exit(9)\n"
              f"prepare_data(DataConfig(**{config.__dict__!r}))\n")
    assert subprocess.run([sys.executable, "-c", script], timeout=120).returncode == 9
    leftovers = list((tmp_path / "cache").glob("coco-*"))
    assert len(leftovers) == 1
    assert ".building-" in leftovers[0].name
    with pytest.raises(DataError, match="manifest.json is missing"):
        load_prepared(leftovers[0])

    prepared = prepare_data(config)
    assert not leftovers[0].exists()
    assert [p.name for p in (tmp_path / "cache").glob("coco-*")] == [prepared.path.name]


@pytest.mark.parametrize("workers,kind", [(2, "thread"), (2, "process")])
def test_parallel_decode_matches_serial(tmp_path, workers, kind):
    items = [Item(i, ("rgb", "gray", "corrupt", "cmyk")[i % 4]) for i in range(1, 40)]
    for item in items:
        from tests.data.layouts import write_image

        write_image(tmp_path / "img" / item.file_name, item.kind, item.image_id, size=(60 + item.image_id, 45))
    paths = [tmp_path / "img" / i.file_name for i in items]
    serial = write_images(paths, tmp_path / "serial.npy", 16, workers=1)
    parallel = write_images(paths, tmp_path / "parallel.npy", 16, workers=workers, kind=kind)
    assert parallel.kept == serial.kept
    assert len(serial.unreadable) == 10
    assert np.array_equal(np.load(tmp_path / "serial.npy"), np.load(tmp_path / "parallel.npy"))


def test_progress_reported_per_split(tmp_path):
    split_file = write_flickr(tmp_path, default_items(train=5, val=2, test=2))
    calls = []
    config = DataConfig(source="karpathy", split_file=str(split_file), image_root=str(tmp_path / "Images"),
                        cache_dir=str(tmp_path / "cache"), image_size=8, min_count=1)
    prepare_data(config, lambda stage, done, total: calls.append((stage, done, total)))
    assert ("images train", 5, 5) in calls
    assert ("images val", 2, 2) in calls
    assert ("images test", 2, 2) in calls


def test_split_without_usable_images(tmp_path):
    items = default_items(train=3, val=1, test=1)
    items[4].kind = "corrupt"
    write_coco(tmp_path / "coco", items)
    with pytest.raises(DataError, match="no usable images in split 'test'"):
        prepare_data(_coco_config(tmp_path / "coco", tmp_path))


def test_split_of_empty_captions_says_so(tmp_path):
    items = default_items(train=3, val=1, test=1)
    items[4].captions = [" . ", "", "!!!"]
    write_coco(tmp_path / "coco", items)

    with pytest.raises(DataError, match="no usable images in split 'test'") as error:
        prepare_data(_coco_config(tmp_path / "coco", tmp_path))
    assert "1 images were left out for having no caption with a word" in str(error.value)
    assert "3 empty captions were dropped" in str(error.value)


def test_abandoned_builds_of_other_keys_removed(messy_coco, tmp_path):
    root, _ = messy_coco
    cache = tmp_path / "cache"
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(ended.stdout)
    # A build stopped by SIGTERM under other settings (another key) leaves its folder behind.
    dead = cache / f"coco-0123456789abcdef.building-{dead_pid}"
    live = cache / f"coco-fedcba9876543210.building-{os.getppid()}"
    unrelated = cache / "notes.building-old"
    for folder in (dead, live, unrelated):
        folder.mkdir(parents=True)
        (folder / "images_train.npy").write_bytes(b"partial")

    prepare_data(_coco_config(root, tmp_path))
    assert not dead.exists()
    assert live.is_dir()
    assert unrelated.is_dir()
