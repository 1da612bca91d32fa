import hashlib
import json
from pathlib import Path

import pytest
from PIL import Image

from nncaption.cli.main import main
from nncaption.data.sources import load_coco
from nncaption.data.synthetic import COLOURS, SHAPES, write_synthetic
from nncaption.errors import ConfigError, DataError


def _digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_synthetic_same_seed_same_bytes(tmp_path):
    write_synthetic(tmp_path / "a", images=40, size=32, seed=3)
    write_synthetic(tmp_path / "b", images=40, size=32, seed=3)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_synthetic_other_seed_differs(tmp_path):
    write_synthetic(tmp_path / "a", images=40, size=32, seed=3)
    write_synthetic(tmp_path / "b", images=40, size=32, seed=4)
    assert _digest(tmp_path / "a") != _digest(tmp_path / "b")


def test_synthetic_coco_captions_format(tmp_path):
    counts = write_synthetic(tmp_path, images=50, size=32, seed=0)
    assert counts == {"train": 40, "val": 5, "test": 5}
    for part, expected_images in (("train2017", 40), ("val2017", 10)):
        payload = json.loads((tmp_path / "annotations" / f"captions_{part}.json").read_text())
        assert set(payload) >= {"info", "images", "annotations", "licenses"}
        assert len(payload["images"]) == expected_images
        assert len(payload["annotations"]) == 5 * expected_images
        ids = [a["id"] for a in payload["annotations"]]
        assert len(ids) == len(set(ids))
        for image in payload["images"]:
            path = tmp_path / part / image["file_name"]
            with Image.open(path) as picture:
                assert picture.size == (image["width"], image["height"]) == (32, 32)


def test_synthetic_loadable_through_coco_loader(tmp_path):
    write_synthetic(tmp_path, images=30, size=32, seed=1)
    dataset = load_coco(tmp_path, 2017, tmp_path / "dataset_synthetic.json")
    assert {k: len(v) for k, v in dataset.splits.items()} == {"train": 24, "val": 3, "test": 3}
    assert all(len(r.captions) == 5 for split in dataset.splits.values() for r in split)


def test_synthetic_captions_name_scene_words(tmp_path):
    write_synthetic(tmp_path, images=60, size=32, seed=2)
    payload = json.loads((tmp_path / "annotations" / "captions_train2017.json").read_text())
    text = " ".join(a["caption"].lower() for a in payload["annotations"])
    assert any(colour in text for colour in COLOURS)
    assert any(shape in text for shape in SHAPES)
    assert "to the left of" in text or "to the right of" in text
    assert "above" in text or "below" in text
    assert "two " in text
    assert "three " in text


def test_synthetic_karpathy_split_file(tmp_path):
    write_synthetic(tmp_path, images=20, size=32, seed=0)
    payload = json.loads((tmp_path / "dataset_synthetic.json").read_text())
    splits = [entry["split"] for entry in payload["images"]]
    assert splits.count("train") == 16
    assert splits.count("val") == 2
    assert splits.count("test") == 2
    entry = payload["images"][0]
    assert set(entry) >= {"filepath", "filename", "cocoid", "split", "sentences"}
    assert len(entry["sentences"]) == 5
    assert entry["sentences"][0]["tokens"]


def test_synthetic_rejects_tiny_sets(tmp_path):
    with pytest.raises(ConfigError, match="between 10 and 1,000,000"):
        write_synthetic(tmp_path, images=3)


def test_synthetic_rejects_huge_images(tmp_path):
    with pytest.raises(ConfigError, match=r"between 24 and 1024 pixels .*, got 100,000"):
        write_synthetic(tmp_path, images=10, size=100_000)
    assert not (tmp_path / "train2017").exists()


def test_synthetic_rewrite_removes_stale_images(tmp_path):
    write_synthetic(tmp_path, images=20, size=32)
    write_synthetic(tmp_path, images=10, size=32)
    written = sorted(p.name for folder in ("train2017", "val2017") for p in (tmp_path / folder).iterdir())
    assert len(written) == 10
    assert not (tmp_path / "val2017" / "000000000020.png").exists()
    assert (tmp_path / "train2017" / "000000000008.png").is_file()


def test_synthetic_rejects_folder_of_other_images(tmp_path):
    (tmp_path / "train2017").mkdir()
    (tmp_path / "train2017" / "photo.jpg").write_bytes(b"not ours")
    with pytest.raises(DataError, match="no dataset_synthetic.json"):
        write_synthetic(tmp_path, images=10, size=32)
    assert (tmp_path / "train2017" / "photo.jpg").is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--images", "2000000"], "--images must be between 10 and 1,000,000"),
        (["--size", "100000"], "--size must be between 24 and 1024"),
    ],
)
def test_synthetic_command_limits_exit_2(tmp_path, capsys, args, message):
    assert main(["data", "synthetic", "--out", str(tmp_path / "set"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "set").exists()


def test_synthetic_command_prints_result_once(tmp_path, capsys):
    assert main(["data", "synthetic", "--out", str(tmp_path / "set"), "--images", "10", "--size", "24"]) == 0
    captured = capsys.readouterr()
    assert "wrote 10 images" in captured.out
    assert "wrote" not in captured.err


def test_synthetic_loads_with_pycocotools(tmp_path):
    coco_api = pytest.importorskip("pycocotools.coco")
    write_synthetic(tmp_path, images=20, size=32, seed=5)
    coco = coco_api.COCO(str(tmp_path / "annotations" / "captions_val2017.json"))
    image_ids = coco.getImgIds()
    assert len(image_ids) == 4
    for image_id in image_ids:
        assert len(coco.getAnnIds(imgIds=image_id)) == 5
    assert all(isinstance(a["caption"], str) for a in coco.loadAnns(coco.getAnnIds()))
