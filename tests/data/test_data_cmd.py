import json
import sqlite3
from pathlib import Path

import pytest
from tests.data.layouts import captions_for, default_items, write_coco, write_flickr

from nncaption.cli.main import main


def test_inspect_prints_counts_and_skips(tmp_path, capsys):
    items = default_items(train=8, val=3, test=3)
    items[0].kind = "truncated"
    items[1].captions = []
    items[2].captions = captions_for(3, 7)
    write_coco(tmp_path / "coco", items)
    args = ["-q", "data", "inspect", "--set", "data.source=coco", "--set", f"data.root={tmp_path / 'coco'}",
            "--set", f"data.cache_dir={tmp_path / 'cache'}", "--set", "data.min_count=1", "--set", "data.image_size=8"]
    assert main(args) == 0
    output = capsys.readouterr().out
    assert "data set coco" in output
    assert "train         6        32  5: 5, 7: 1" in output
    assert "val           3        15" in output
    assert "unreadable images: 1" in output
    assert "000000000001.jpg: OSError" in output
    assert "images without captions: 1" in output
    assert "caption length in tokens, counted before the cut:" in output
    assert "best constant caption:" in output

    prepared = next((tmp_path / "cache").glob("coco-*"))
    assert main(["-q", "data", "inspect", "--cache", str(prepared)]) == 0
    assert "unreadable images: 1" in capsys.readouterr().out


def test_inspect_errors_name_the_problem(tmp_path, capsys):
    assert main(["-q", "data", "inspect", "--cache", str(tmp_path)]) == 1
    assert "manifest.json is missing" in capsys.readouterr().err
    assert main(["-q", "data", "inspect", "--set", "data.source=coco", "--set", f"data.root={tmp_path}"]) == 1
    assert "no annotations folder" in capsys.readouterr().err


SEARCH = ["search.candidates=1", "trial.epochs=1", "data.min_count=1", "data.image_size=16", "trial.timeout_s=240"]


def _search(tmp_path, source_settings):
    args = ["-q", "search", "--run-dir", str(tmp_path / "run"), "--set", f"data.cache_dir={tmp_path / 'cache'}"]
    for item in SEARCH + source_settings:
        args += ["--set", item]
    return main(args)


def _trial_facts(run_dir):
    """(statuses, scored epochs, name of the prepared data folder) from the run's store."""
    db = sqlite3.connect(run_dir / "store.sqlite")
    try:
        statuses = [row[0] for row in db.execute("SELECT status FROM candidates ORDER BY id")]
        epochs = db.execute("SELECT candidate_id, epoch FROM epochs").fetchall()
        data = json.loads(db.execute("SELECT value FROM meta WHERE key = 'data'").fetchone()[0])
    finally:
        db.close()
    return statuses, epochs, Path(data["path"]).name


# One epoch on 24 images often trains a model that emits one caption for every image. The
# search marks that degenerate, and either verdict means that the trial trained and was scored.
SCORED = ("trained", "degenerate")


@pytest.mark.slow
def test_search_on_coco_layout(tmp_path, capsys):
    items = default_items(train=24, val=6, test=6)
    items[0].kind = "corrupt"
    items[1].kind = "cmyk"
    write_coco(tmp_path / "coco", items, year=2014, split_file=True)
    settings = ["data.source=coco", f"data.root={tmp_path / 'coco'}", "data.year=2014",
                f"data.split_file={tmp_path / 'coco' / 'dataset_coco.json'}"]
    assert _search(tmp_path, settings) == 0
    statuses, epochs, data_folder = _trial_facts(tmp_path / "run")
    assert len(statuses) == 1
    assert statuses[0] in SCORED
    assert epochs == [(0, 1)]
    assert data_folder.startswith("coco-")
    assert "val BLEU-4" in capsys.readouterr().out


@pytest.mark.slow
def test_search_on_flickr_layout(tmp_path, capsys):
    split_file = write_flickr(tmp_path / "flickr", default_items(train=24, val=6, test=6, start=0))
    settings = ["data.source=karpathy", f"data.split_file={split_file}", f"data.image_root={tmp_path / 'flickr' / 'Images'}"]
    assert _search(tmp_path, settings) == 0
    statuses, epochs, data_folder = _trial_facts(tmp_path / "run")
    assert len(statuses) == 1
    assert statuses[0] in SCORED
    assert epochs == [(0, 1)]
    assert data_folder.startswith("flickr8k-")
    assert "val BLEU-4" in capsys.readouterr().out


@pytest.mark.slow
def test_train_on_flickr_layout(tmp_path, capsys):
    import nncaption.zoo

    model = Path(nncaption.zoo.__file__).parent / "files" / "captioners" / "cnn_gru.py"
    split_file = write_flickr(tmp_path / "flickr", default_items(train=24, val=6, test=6, start=0), name="flickr30k")
    args = ["-q", "train", str(model), "--data", "karpathy", "--epochs", "1", "--out", str(tmp_path / "out"),
            "--set", f"data.split_file={split_file}", "--set", f"data.image_root={tmp_path / 'flickr' / 'Images'}",
            "--set", f"data.cache_dir={tmp_path / 'cache'}", "--set", "data.min_count=1", "--set", "data.image_size=16"]
    assert main(args) in (0, 1)  # 1: trained but not healthy, as in the search tests
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["data"]["name"] == "flickr30k"
    assert results["data"]["splits"]["train"]["images"] == 24
    assert results["outcome"]["status"] in SCORED
    assert len(results["outcome"]["epochs"]) == 1


def test_inspect_drops_empty_captions(tmp_path, capsys):
    items = default_items(train=8, val=3, test=3)
    items[0].captions = ["", "   ", "!!! ... ,,,", "( - )", *captions_for(1, 2)]
    items[1].captions = ["", " .. "]  # no caption with a token left: the image is skipped
    items[9].captions = [*captions_for(10, 5), ""]  # a val image
    write_coco(tmp_path / "coco", items)
    args = ["-q", "data", "inspect", "--set", "data.source=coco", "--set", f"data.root={tmp_path / 'coco'}",
            "--set", f"data.cache_dir={tmp_path / 'cache'}", "--set", "data.min_count=1", "--set", "data.image_size=8"]
    assert main(args) == 0
    output = capsys.readouterr().out
    assert "empty captions: 7" in output
    assert "images without captions: 1" in output
    assert "train         7        32  2: 1, 5: 6" in output
    assert "val           3        15" in output
    assert "train min 4," in output

    histogram_rows = [line for line in output.splitlines() if line.startswith("  train ") and ":" in line]
    assert sum(int(row.split(":")[1].split()[0]) for row in histogram_rows) == 32

    prepared = next((tmp_path / "cache").glob("coco-*"))
    references = json.loads((prepared / "references_val.json").read_text())
    assert all(caption.strip() for captions in references.values() for caption in captions)
