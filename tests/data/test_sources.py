import json

import pytest
from tests.data.layouts import Item, captions_for, default_items, write_coco, write_flickr

from nncaption.config import DataConfig
from nncaption.data.prepare import load_source, prepare_data
from nncaption.data.sources import check_images_exist, load_coco, load_karpathy
from nncaption.errors import ConfigError, DataError


def _ids(dataset, split):
    return [r.image_id for r in dataset.splits[split]]


def test_coco_without_split_file_halves_val(tmp_path):
    write_coco(tmp_path, default_items(train=6, val=2, test=2))
    dataset = load_coco(tmp_path, 2017)
    assert _ids(dataset, "train") == [1, 2, 3, 4, 5, 6]
    assert _ids(dataset, "val") == [7, 8]
    assert _ids(dataset, "test") == [9, 10]
    assert dataset.splits["train"][0].path == tmp_path / "train2017" / "000000000001.jpg"
    assert dataset.splits["val"][0].captions == captions_for(7)


def test_coco_year_2014(tmp_path):
    write_coco(tmp_path, default_items(train=2, val=1, test=1), year=2014)
    dataset = load_coco(tmp_path, 2014)
    assert dataset.splits["train"][0].path.parent.name == "train2014"
    with pytest.raises(DataError, match=r"captions_train2017\.json.*captions_train2014\.json.*data\.year"):
        load_coco(tmp_path, 2017)


def test_coco_split_file_merges_restval(tmp_path):
    items = default_items(train=3, val=2, test=2)
    items.append(Item(50, "rgb", captions_for(50), "restval"))
    write_coco(tmp_path, items, split_file=True)
    dataset = load_coco(tmp_path, 2017, tmp_path / "dataset_coco.json")
    assert _ids(dataset, "train") == [1, 2, 3, 50]
    assert _ids(dataset, "val") == [4, 5]
    assert _ids(dataset, "test") == [6, 7]
    assert dataset.options["restval"] == "train"


def test_coco_split_file_restval_drop(tmp_path):
    items = default_items(train=3, val=2, test=2) + [Item(50, "rgb", captions_for(50), "restval")]
    write_coco(tmp_path, items, split_file=True)
    dataset = load_coco(tmp_path, 2017, tmp_path / "dataset_coco.json", restval="drop")
    assert _ids(dataset, "train") == [1, 2, 3]
    assert dataset.skipped["restval_images_dropped"] == 1


def test_coco_split_file_counts_unmatched_images(tmp_path):
    write_coco(tmp_path, default_items(train=3, val=1, test=1), split_file=True)
    split_file = tmp_path / "dataset_coco.json"
    payload = json.loads(split_file.read_text())
    payload["images"] = payload["images"][1:]  # image 1 is in the annotations only
    payload["images"].append(dict(payload["images"][0], cocoid=999))  # and 999 in the split file only
    split_file.write_text(json.dumps(payload))
    dataset = load_coco(tmp_path, 2017, split_file)
    assert _ids(dataset, "train") == [2, 3]
    assert dataset.skipped["images_not_in_split_file"] == 1
    assert dataset.skipped["split_file_images_not_in_annotations"] == 1


def test_coco_zero_and_seven_captions(tmp_path):
    items = default_items(train=3, val=1, test=1)
    items[0].captions = []
    items[1].captions = captions_for(2, 7)
    write_coco(tmp_path, items)
    dataset = load_coco(tmp_path, 2017)
    assert _ids(dataset, "train") == [2, 3]
    assert dataset.skipped["images_without_captions"] == 1
    assert len(dataset.splits["train"][0].captions) == 7


def test_flickr_without_filepath(tmp_path):
    items = default_items(train=4, val=2, test=2, start=0)
    split_file = write_flickr(tmp_path, items)
    dataset = load_karpathy(split_file, tmp_path / "Images")
    assert dataset.name == "flickr8k"
    assert _ids(dataset, "train") == [0, 1, 2, 3]
    assert _ids(dataset, "test") == [6, 7]
    assert dataset.splits["train"][1].path == tmp_path / "Images" / "000000000001.jpg"
    assert dataset.splits["val"][0].captions == captions_for(4)


def test_karpathy_image_root_defaults_to_file_folder(tmp_path):
    write_coco(tmp_path, default_items(train=2, val=1, test=1), split_file=True)
    dataset = load_karpathy(tmp_path / "dataset_coco.json")
    assert dataset.name == "coco"
    assert dataset.splits["train"][0].path == tmp_path / "train2017" / "000000000001.jpg"
    assert dataset.splits["val"][0].path == tmp_path / "val2017" / "000000000003.jpg"


def test_karpathy_zero_seven_captions_and_restval(tmp_path):
    items = default_items(train=3, val=1, test=1)
    items[0].captions = []
    items[1].captions = captions_for(2, 7)
    items.append(Item(40, "rgb", captions_for(40), "restval"))
    split_file = write_flickr(tmp_path, items, name="flickr30k")
    merged = load_karpathy(split_file, tmp_path / "Images")
    assert _ids(merged, "train") == [2, 3, 40]
    assert len(merged.splits["train"][0].captions) == 7
    assert merged.skipped["images_without_captions"] == 1
    dropped = load_karpathy(split_file, tmp_path / "Images", restval="drop")
    assert _ids(dropped, "train") == [2, 3]
    assert dropped.skipped["restval_images_dropped"] == 1


def test_karpathy_tokens_without_raw(tmp_path):
    split_file = write_flickr(tmp_path, default_items(train=1, val=1, test=1))
    payload = json.loads(split_file.read_text())
    for sentence in payload["images"][0]["sentences"]:
        del sentence["raw"]
    split_file.write_text(json.dumps(payload))
    dataset = load_karpathy(split_file, tmp_path / "Images")
    assert dataset.splits["train"][0].captions[0] == "a green dog on the grass"


def test_unknown_split_names_file(tmp_path):
    split_file = write_flickr(tmp_path, default_items(train=2, val=1, test=1))
    payload = json.loads(split_file.read_text())
    payload["images"][1]["split"] = "holdout"
    split_file.write_text(json.dumps(payload))
    with pytest.raises(DataError, match=r"dataset_flickr8k\.json: images\[1\] has unknown split 'holdout'"):
        load_karpathy(split_file, tmp_path / "Images")
    write_coco(tmp_path / "coco", default_items(train=2, val=1, test=1))
    with pytest.raises(DataError, match="unknown split 'holdout'"):
        load_coco(tmp_path / "coco", 2017, split_file)


@pytest.mark.parametrize("broken", ["{\"images\": [", "not json at all", ""])
def test_malformed_json_names_file(tmp_path, broken):
    write_coco(tmp_path, default_items(train=2, val=1, test=1), split_file=True)
    (tmp_path / "annotations" / "captions_val2017.json").write_text(broken)
    with pytest.raises(DataError, match=r"captions_val2017\.json is not valid JSON"):
        load_coco(tmp_path, 2017)
    (tmp_path / "dataset_coco.json").write_text(broken)
    with pytest.raises(DataError, match=r"dataset_coco\.json is not valid JSON"):
        load_karpathy(tmp_path / "dataset_coco.json")


def test_wrong_json_shape_names_file(tmp_path):
    write_coco(tmp_path, default_items(train=2, val=1, test=1))
    (tmp_path / "annotations" / "captions_train2017.json").write_text(json.dumps({"images": []}))
    with pytest.raises(DataError, match=r"captions_train2017\.json is not a COCO captions file"):
        load_coco(tmp_path, 2017)
    (tmp_path / "dataset_x.json").write_text(json.dumps([1, 2]))
    with pytest.raises(DataError, match=r"dataset_x\.json is not a Karpathy split file"):
        load_karpathy(tmp_path / "dataset_x.json")


def test_missing_images_listed_with_count(tmp_path):
    items = default_items(train=8, val=2, test=2)
    write_coco(tmp_path, items)
    for item in items[:7]:
        (tmp_path / "train2017" / item.file_name).unlink()
    dataset = load_coco(tmp_path, 2017)
    with pytest.raises(DataError) as error:
        check_images_exist(dataset)
    message = str(error.value)
    assert message.startswith("7 image files listed in")
    assert "captions_train2017.json" in message
    assert "000000000001.jpg" in message
    assert "000000000005.jpg" in message
    assert "000000000006.jpg" not in message  # only the first five are named


def test_missing_images_fail_prepare(tmp_path):
    items = default_items(train=3, val=1, test=1, start=0)
    split_file = write_flickr(tmp_path, items)
    (tmp_path / "Images" / items[2].file_name).unlink()
    config = DataConfig(source="karpathy", split_file=str(split_file), image_root=str(tmp_path / "Images"),
                        cache_dir=str(tmp_path / "cache"), min_count=1, image_size=8)
    with pytest.raises(DataError, match=r"1 image files listed in .*dataset_flickr8k\.json are missing, e\.g\. .*000000000002\.jpg"):
        prepare_data(config)
    assert not any((tmp_path / "cache").glob("*/manifest.json"))


def test_source_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="data.root"):
        load_source(DataConfig(source="coco"))
    with pytest.raises(ConfigError, match="data.split_file"):
        load_source(DataConfig(source="karpathy"))
    with pytest.raises(ConfigError, match="unknown data.source 'imagenet'"):
        load_source(DataConfig(source="imagenet"))
    with pytest.raises(ConfigError, match="invalid data.restval 'val'"):
        load_source(DataConfig(source="karpathy", split_file="x.json", restval="val"))


def test_karpathy_image_root_must_exist(tmp_path):
    split_file = write_flickr(tmp_path, default_items(train=1, val=1, test=1))
    with pytest.raises(DataError, match="data.image_root"):
        load_karpathy(split_file, tmp_path / "nowhere")
