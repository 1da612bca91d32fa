"""METEOR through the jar against pycocoevalcap's own Meteor wrapper (both need Java)."""

from __future__ import annotations

import pytest

from nncaption.errors import NncaptionError
from nncaption.metrics import evaluate_detailed, tokenize
from nncaption.metrics.meteor import MeteorMetric, find_meteor_jar

from .coco_reference import requires_java

pytestmark = [pytest.mark.slow, requires_java]


@pytest.mark.skipif(
    find_meteor_jar() is None, reason="pycocoevalcap's meteor-1.5.jar is not installed"
)
def test_meteor_matches_pycocoevalcap() -> None:
    from pycocoevalcap.meteor.meteor import Meteor

    references = {
        1: ["A man riding a horse on the beach.", "A person rides a brown horse."],
        2: ["Two dogs play with a red frisbee.", "Dogs playing in the park."],
        3: ["A plate of food.", "Café crème on a table."],
        4: ["A cat."],
    }
    hypotheses = {1: "A man rides a horse.", 2: "Two dogs playing.", 3: "", 4: "a cat"}
    gts = {i: [" ".join(tokenize(c)) for c in refs] for i, refs in references.items()}
    res = {i: [" ".join(tokenize(hypotheses[i]))] for i in references}
    expected, expected_per_image = Meteor().compute_score(gts, res)

    evaluation = evaluate_detailed(references, hypotheses, ["meteor"])
    assert evaluation.scores["METEOR"] == pytest.approx(expected, abs=1e-12)
    assert list(evaluation.per_image["METEOR"].values()) == pytest.approx(
        expected_per_image, abs=1e-12
    )


def test_meteor_jar_failure_raises(tmp_path) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "meteor-1.5.jar"
    broken.write_bytes(b"not a jar")
    metric = MeteorMetric(jar=broken)
    with pytest.raises(NncaptionError, match="METEOR jar"):
        metric.compute_score({1: [("a", "dog")]}, {1: ("a", "dog")})
