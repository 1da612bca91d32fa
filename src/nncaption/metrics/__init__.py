"""Caption metrics with the values of the COCO caption evaluation (pycocoevalcap 1.2).

`tokenize` is the COCO evaluation's tokenization step; the vocabulary is built with it too,
so training text and scored text agree. `evaluate` scores raw captions; each metric is a
registered `Metric` with pycocoevalcap's `compute_score(references, hypotheses)` shape.
"""

from nncaption.metrics import bleu, cider, lemur, meteor, rouge  # noqa: F401  (import registers the metrics)
from nncaption.metrics.base import METRICS, Metric, MetricScore, get_metric, register_metric
from nncaption.metrics.constant import ConstantCaptionScorer, best_constant_caption
from nncaption.metrics.evaluation import (
    DEFAULT_METRICS,
    Evaluation,
    check_inputs,
    evaluate,
    evaluate_detailed,
)
from nncaption.metrics.tokenizer import PUNCTUATIONS, tokenize

__all__ = [
    "DEFAULT_METRICS",
    "METRICS",
    "PUNCTUATIONS",
    "ConstantCaptionScorer",
    "Evaluation",
    "Metric",
    "MetricScore",
    "best_constant_caption",
    "check_inputs",
    "evaluate",
    "evaluate_detailed",
    "get_metric",
    "register_metric",
    "tokenize",
]
