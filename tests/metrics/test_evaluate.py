"""The evaluate API: input checks, metric selection, skipped METEOR, per-image scores and the registry."""

from __future__ import annotations

import pytest

from nncaption.errors import DataError, NncaptionError, UsageError
from nncaption.metrics import METRICS, evaluate, evaluate_detailed, get_metric
from nncaption.metrics.base import Metric
from nncaption.metrics.meteor import MeteorMetric

REFERENCES = {
    1: ["A man riding a horse.", "A person on a horse."],
    2: ["Two dogs play.", "Dogs in a park."],
}
HYPOTHESES = {1: "A man on a horse.", 2: "Two dogs."}


def test_default_scores_have_coco_names() -> None:
    scores = evaluate(REFERENCES, HYPOTHESES)
    assert list(scores) == ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "CIDEr"]
    assert all(isinstance(value, float) for value in scores.values())


def test_requested_scores_only() -> None:
    assert list(evaluate(REFERENCES, HYPOTHESES, ["Bleu_4", "cider"])) == ["Bleu_4", "CIDEr"]


def test_unknown_metric_is_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown metric 'spice'"):
        evaluate(REFERENCES, HYPOTHESES, ["spice"])


def test_per_image_scores_keyed_by_image() -> None:
    evaluation = evaluate_detailed(REFERENCES, HYPOTHESES, ["rouge_l"])
    assert set(evaluation.per_image["ROUGE_L"]) == {1, 2}
    mean = sum(evaluation.per_image["ROUGE_L"].values()) / 2
    assert evaluation.scores["ROUGE_L"] == pytest.approx(mean, abs=1e-15)


def test_exact_match_scores_one() -> None:
    scores = evaluate(
        {1: ["a man riding a horse"]}, {1: "A man riding a horse."}, ["bleu", "rouge_l"]
    )
    assert scores["Bleu_4"] == pytest.approx(1.0, abs=1e-8)
    assert scores["ROUGE_L"] == pytest.approx(1.0)


def test_references_without_hypothesis_are_left_out() -> None:
    references = {**REFERENCES, 3: ["A cat."]}
    assert evaluate(references, HYPOTHESES) == evaluate(REFERENCES, HYPOTHESES)


def test_one_element_hypothesis_list_accepted() -> None:
    wrapped = {image_id: [caption] for image_id, caption in HYPOTHESES.items()}
    assert evaluate(REFERENCES, wrapped) == evaluate(REFERENCES, HYPOTHESES)


@pytest.mark.parametrize(
    ("references", "hypotheses", "message"),
    [
        ({1: []}, {1: "a dog"}, "image 1 has no reference caption"),
        ({1: ["a dog"]}, {2: "a dog"}, "hypothesis for unknown image 2"),
        ({1: ["a dog"]}, {1: ["a dog", "a cat"]}, "image 1 has 2 hypotheses"),
        ({1: ["a dog"]}, {1: 42}, "the hypothesis of image 1 must be a string, found int"),
        (
            {1: ["a dog", None]},
            {1: "a dog"},
            "a reference of image 1 must be a string, found NoneType",
        ),
        ({1: "a dog"}, {1: "a dog"}, "references of image 1 must be a list of strings"),
        ({1: ["a dog"]}, {}, "no hypotheses to score"),
        ([["a dog"]], {0: "a dog"}, "must be dicts keyed by image id"),
    ],
)
def test_invalid_input_raises_data_error(
    references: object, hypotheses: object, message: str
) -> None:
    with pytest.raises(DataError, match=message):
        evaluate(references, hypotheses)  # type: ignore[arg-type]


def test_meteor_without_java_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    evaluation = evaluate_detailed(REFERENCES, HYPOTHESES, ["meteor", "Bleu_1"])
    assert "METEOR" not in evaluation.scores
    assert evaluation.skipped["METEOR"].startswith("skipped: needs Java")
    assert "Bleu_1" in evaluation.scores


def test_meteor_without_jar_is_unavailable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    metric = MeteorMetric(jar=tmp_path / "missing.jar", java="sh")
    assert "meteor-1.5.jar" in (metric.unavailable_reason() or "")


def test_registry_lists_every_metric() -> None:
    assert set(METRICS) == {"bleu", "rouge_l", "cider", "meteor", "lemur_bleu4"}


@pytest.mark.parametrize("name", sorted(METRICS))
def test_registered_metric_follows_interface(name: str) -> None:
    cls = METRICS[name]
    assert issubclass(cls, Metric)
    assert get_metric(name) is cls
    for score_name in cls.score_names:
        assert get_metric(score_name.upper()) is cls
    metric = cls()
    if metric.unavailable_reason() is not None:
        pytest.skip(f"{name} is unavailable here: {metric.unavailable_reason()}")
    if name == "meteor":
        pytest.skip("METEOR starts a Java process; the slow METEOR tests cover its interface")
    scores = metric.compute_score({1: [("a", "dog")], 2: [("a", "cat")]}, {1: ("a", "dog"), 2: ()})
    assert set(scores) == set(cls.score_names)
    for score in scores.values():
        assert len(score.per_image) == 2


def fake_java(tmp_path, body: str):  # type: ignore[no-untyped-def]
    """Write an executable stand-in for `java` and an empty jar file next to it."""
    java = tmp_path / "java"
    java.write_text(f"#!/bin/sh\n{body}\n")
    java.chmod(0o755)
    jar = tmp_path / "meteor-1.5.jar"
    jar.write_bytes(b"")
    return str(java), jar


def test_meteor_timeout_raises(tmp_path) -> None:  # type: ignore[no-untyped-def]
    java, jar = fake_java(tmp_path, "exec sleep 30")
    metric = MeteorMetric(jar=jar, java=java, timeout_s=0.5)
    with pytest.raises(NncaptionError, match="timed out"):
        metric.compute_score({1: [("a", "dog")]}, {1: ("a", "dog")})


def test_meteor_early_exit_raises(tmp_path) -> None:  # type: ignore[no-untyped-def]
    java, jar = fake_java(tmp_path, "echo 'Error: no paraphrase table' >&2; exit 3")
    metric = MeteorMetric(jar=jar, java=java)
    with pytest.raises(NncaptionError, match="no paraphrase table"):
        metric.compute_score({1: [("a", "dog")]}, {1: ("a", "dog")})
