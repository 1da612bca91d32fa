"""The metric interface, the metric registry and the n-gram counting they share.

Every metric takes tokenized references and hypotheses keyed by image id, in the shape of
pycocoevalcap's `compute_score(gts, res)`, and returns one `MetricScore` per score name
(BLEU returns four). Scores are in image order of the hypotheses mapping.
"""

from __future__ import annotations

import abc
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar, TypeVar

from nncaption.errors import UsageError
from nncaption.metrics.ngrams import MAX_ORDER, CaptionSet, counting_tokens

__all__ = [
    "CaptionSet",
    "METRICS",
    "Metric",
    "MetricScore",
    "TokenizedHypotheses",
    "TokenizedReferences",
    "ngram_counts",
    "get_metric",
    "register_metric",
    "resolve_score_names",
]

Tokens = tuple[str, ...]
TokenizedReferences = Mapping[Hashable, Sequence[Tokens]]
TokenizedHypotheses = Mapping[Hashable, Tokens]


@dataclass(frozen=True)
class MetricScore:
    """A corpus score and the per-image scores behind it, in hypothesis image order."""

    name: str
    value: float
    per_image: tuple[float, ...]


class Metric(abc.ABC):
    """One caption metric with pycocoevalcap's `compute_score(references, hypotheses)` shape."""

    # Registry key, e.g. "bleu".
    name: ClassVar[str]
    # The score names it returns, with COCO spelling, e.g. ("Bleu_1", ..., "Bleu_4").
    score_names: ClassVar[tuple[str, ...]]

    def unavailable_reason(self) -> str | None:
        """Return why the metric cannot run here (a missing program), or None when it can."""
        return None

    @abc.abstractmethod
    def compute_score(
        self, references: TokenizedReferences, hypotheses: TokenizedHypotheses
    ) -> dict[str, MetricScore]:
        """Score tokenized hypotheses against tokenized references of the same images."""

    def score_captions(self, captions: CaptionSet) -> dict[str, MetricScore]:
        """Score a CaptionSet; metrics that use its shared n-gram counts override this."""
        return self.compute_score(captions.references_by_image, captions.hypotheses_by_image)


METRICS: dict[str, type[Metric]] = {}

MetricType = TypeVar("MetricType", bound=type[Metric])


def register_metric(cls: MetricType) -> MetricType:
    """Add a Metric subclass to METRICS under its `name` (class decorator)."""
    if cls.name in METRICS:
        raise ValueError(
            f"metric name {cls.name!r} is already registered by {METRICS[cls.name].__name__}"
        )
    METRICS[cls.name] = cls
    return cls


def get_metric(name: str) -> type[Metric]:
    """Return the registered metric class for a registry key or one of its score names."""
    requested = name.strip().lower()
    for key, cls in METRICS.items():
        if requested == key or requested in (score.lower() for score in cls.score_names):
            return cls
    known = ", ".join(sorted(score for cls in METRICS.values() for score in cls.score_names))
    raise UsageError(
        f"unknown metric {name!r}; expected one of: {known} (or a family: {', '.join(METRICS)})"
    )


def resolve_score_names(names: Sequence[str]) -> dict[str, list[str]]:
    """Group requested metric or score names by registry key, keeping request order.

    A registry key ("bleu") requests all its scores; a score name ("Bleu_4") only that one.
    """
    requested: dict[str, list[str]] = {}
    for name in names:
        cls = get_metric(name)
        scores = requested.setdefault(cls.name, [])
        lowered = name.strip().lower()
        selected = [s for s in cls.score_names if s.lower() == lowered] or list(cls.score_names)
        scores.extend(s for s in selected if s not in scores)
    return requested


@lru_cache(maxsize=1 << 17)
def ngram_counts(tokens: tuple[str, ...]) -> tuple[Counter, ...]:
    """Count the 1- to 4-grams of a caption, one Counter per order (unigrams keyed by token).

    pycocoevalcap's BLEU and CIDEr split the tokenized caption with `str.split()`, which
    also splits at a no-break space inside a PTB token, so the same split is done here.
    Cached and shared by the metrics: callers must not modify the returned Counters.
    """
    tokens = counting_tokens(tokens)
    counts = [Counter(tokens)]
    for k in range(2, MAX_ORDER + 1):
        counts.append(Counter(zip(*(tokens[i:] for i in range(k)), strict=False)))
    return tuple(counts)
