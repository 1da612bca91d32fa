"""`nncaption score` on small COCO files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from nncaption.cli.main import main

ANNOTATIONS = {
    "images": [{"id": 1}, {"id": 2}, {"id": 3}],
    "annotations": [
        {"id": 10, "image_id": 1, "caption": "A man riding a horse."},
        {"id": 11, "image_id": 1, "caption": "A person on a horse."},
        {"id": 12, "image_id": 2, "caption": "Two dogs playing."},
        {"id": 13, "image_id": 3, "caption": "A red bus."},
    ],
}
RESULTS = [{"image_id": 1, "caption": "a man on a horse"}, {"image_id": 2, "caption": "two dogs"}]


def write(path: Path, data: object) -> str:
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_score_prints_coco_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = write(tmp_path / "results.json", RESULTS)
    annotations = write(tmp_path / "captions.json", ANNOTATIONS)
    assert (
        main(
            [
                "score",
                "--results",
                results,
                "--annotations",
                annotations,
                "--metrics",
                "bleu,rouge_l",
                "cider",
            ]
        )
        == 0
    )
    output = capsys.readouterr().out
    assert "2 images scored" in output
    for name in ["Bleu_1", "Bleu_4", "ROUGE_L", "CIDEr"]:
        assert name in output
    assert "METEOR" not in output


def test_score_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = write(tmp_path / "results.json", RESULTS)
    annotations = write(tmp_path / "captions.json", ANNOTATIONS)
    assert (
        main(
            [
                "score",
                "--results",
                results,
                "--annotations",
                annotations,
                "--metrics",
                "Bleu_4",
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["images"] == 2
    assert set(report["scores"]) == {"Bleu_4"}
    assert 0.0 <= report["scores"]["Bleu_4"] <= 1.0


def test_score_lists_meteor_as_skipped_without_java(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    results = write(tmp_path / "results.json", RESULTS)
    annotations = write(tmp_path / "captions.json", ANNOTATIONS)
    assert main(["score", "--results", results, "--annotations", annotations]) == 0
    output = capsys.readouterr().out
    assert re.search(r"^METEOR +skipped$", output, re.MULTILINE)
    assert "METEOR skipped: needs Java" in output
    assert "CIDEr" in output


def test_score_only_skipped_metrics_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    results = write(tmp_path / "results.json", RESULTS)
    annotations = write(tmp_path / "captions.json", ANNOTATIONS)
    assert main(["score", "--results", results, "--annotations", annotations, "--metrics", "METEOR"]) == 1
    err = capsys.readouterr().err
    assert "none of the requested metrics could be computed" in err
    assert "needs Java" in err


def test_score_one_image_singular(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = write(tmp_path / "results.json", RESULTS[:1])
    annotations = write(tmp_path / "captions.json", ANNOTATIONS)
    assert main(["score", "--results", results, "--annotations", annotations, "--metrics", "bleu"]) == 0
    assert "1 image scored" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("results", "message"),
    [
        ([], "contains no hypotheses"),
        ([{"image_id": 9, "caption": "a cat"}], "has no references for"),
    ],
)
def test_score_errors_name_results_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], results: object, message: str
) -> None:
    results_path = write(tmp_path / "results.json", results)
    annotations = write(tmp_path / "captions.json", ANNOTATIONS)
    assert main(["score", "--results", results_path, "--annotations", annotations]) == 1
    err = capsys.readouterr().err
    assert message in err
    assert results_path in err


@pytest.mark.parametrize(
    ("results", "message"),
    [
        (RESULTS + [{"image_id": 1, "caption": "another"}], "image 1 has two hypotheses"),
        ([{"image_id": 9, "caption": "a cat"}], "has no references for, e.g. 9"),
        ([{"image_id": 1}], "entry 0 has no 'caption' field"),
        ([{"image_id": 1, "caption": 5}], "has a caption of type int"),
        ({"image_id": 1}, "expected a JSON list"),
    ],
)
def test_score_invalid_results_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], results: object, message: str
) -> None:
    results_path = write(tmp_path / "results.json", results)
    annotations = write(tmp_path / "captions.json", ANNOTATIONS)
    assert (
        main(
            ["score", "--results", results_path, "--annotations", annotations, "--metrics", "bleu"]
        )
        == 1
    )
    assert message in capsys.readouterr().err


def test_score_missing_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    annotations = write(tmp_path / "captions.json", ANNOTATIONS)
    assert (
        main(["score", "--results", str(tmp_path / "none.json"), "--annotations", annotations]) == 2
    )
    assert "--results file" in capsys.readouterr().err
