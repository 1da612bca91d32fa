"""Scoring raw captions: input checks, tokenization and the registered metrics, as COCOEvalCap does.

The images scored are the images with a hypothesis. References may contain more images,
for example when a results file covers part of a split. Those images are left out, as
pycocoevalcap's `COCOEvalCap` leaves them out when its `image_id` parameter is set to the
results' images.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

from nncaption.errors import DataError
from nncaption.metrics.base import METRICS, resolve_score_names
from nncaption.metrics.ngrams import CaptionSet
from nncaption.metrics.tokenizer import tokenize_cached

__all__ = ["DEFAULT_METRICS", "Evaluation", "check_inputs", "evaluate", "evaluate_detailed"]

log = logging.getLogger(__name__)

# Scores computed when no metric list is given; METEOR needs Java, so it is requested by name.
DEFAULT_METRICS = ("bleu", "rouge_l", "cider")


@dataclass(frozen=True)
class Evaluation:
    """Corpus scores, per-image scores and the metrics that could not run."""

    scores: dict[str, float]
    per_image: dict[str, dict[Hashable, float]]
    # Score name -> reason, e.g. {"METEOR": "skipped: needs Java (no 'java' on PATH)"}.
    skipped: dict[str, str] = field(default_factory=dict)


def _check_caption(caption: object, what: str, image_id: Hashable) -> str:
    if not isinstance(caption, str):
        raise DataError(
            f"{what} of image {image_id!r} must be a string, found {type(caption).__name__}: {caption!r}; "
            "pass captions as text"
        )
    return caption


def _check_hypothesis(value: object, image_id: Hashable) -> str:
    # A one-element list is pycocoevalcap's shape for a hypothesis; accept it.
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise DataError(
                f"image {image_id!r} has {len(value)} hypotheses, expected exactly one; "
                "keep one caption per image"
            )
        value = value[0]
    return _check_caption(value, "the hypothesis", image_id)


def _check_references(value: object, image_id: Hashable) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise DataError(
            f"references of image {image_id!r} must be a list of strings, found {type(value).__name__}: "
            f"{value!r}; wrap a single reference in a list"
        )
    if len(value) == 0:
        raise DataError(
            f"image {image_id!r} has no reference caption; add one or drop its hypothesis"
        )
    return [_check_caption(reference, "a reference", image_id) for reference in value]


def check_inputs(
    references: Mapping[Hashable, Sequence[str]], hypotheses: Mapping[Hashable, object]
) -> tuple[dict[Hashable, list[str]], dict[Hashable, str]]:
    """Validate references and hypotheses and return them restricted to the hypothesis images.

    Raises DataError for: no hypotheses, a hypothesis for an image without references, an
    image with an empty reference list, more than one hypothesis for an image, and captions
    that are not strings. An empty hypothesis string is valid.
    """
    if not isinstance(references, Mapping) or not isinstance(hypotheses, Mapping):
        raise DataError(
            "references and hypotheses must be dicts keyed by image id, found "
            f"{type(references).__name__} and {type(hypotheses).__name__}"
        )
    if not hypotheses:
        raise DataError("no hypotheses to score; pass at least one {image_id: caption}")

    checked_hypotheses: dict[Hashable, str] = {}
    checked_references: dict[Hashable, list[str]] = {}
    for image_id, hypothesis in hypotheses.items():
        if image_id not in references:
            raise DataError(
                f"hypothesis for unknown image {image_id!r}: it has no references "
                f"({len(references)} images have references); check the image ids"
            )
        checked_hypotheses[image_id] = _check_hypothesis(hypothesis, image_id)
        checked_references[image_id] = _check_references(references[image_id], image_id)

    unscored = len(references) - len(checked_references)
    if unscored:
        log.info(
            "scoring %d images with a hypothesis; %d images with references only are left out",
            len(checked_hypotheses),
            unscored,
        )
    return checked_references, checked_hypotheses


def evaluate_detailed(
    references: Mapping[Hashable, Sequence[str]],
    hypotheses: Mapping[Hashable, object],
    metrics: Sequence[str] | None = None,
) -> Evaluation:
    """Tokenize raw captions and score them with the requested metrics.

    `metrics` contains registry keys ("bleu", "rouge_l", "cider", "meteor", "lemur_bleu4") or
    COCO score names ("Bleu_4", "CIDEr"); None means DEFAULT_METRICS. A metric that cannot
    run here (METEOR without Java) is listed in `skipped` instead of raising.
    """
    requested = resolve_score_names(list(DEFAULT_METRICS if metrics is None else metrics))
    raw_references, raw_hypotheses = check_inputs(references, hypotheses)

    tokenized_references = {
        image_id: [tokenize_cached(caption) for caption in captions]
        for image_id, captions in raw_references.items()
    }
    tokenized_hypotheses = {
        image_id: tokenize_cached(caption) for image_id, caption in raw_hypotheses.items()
    }
    image_ids = list(tokenized_hypotheses)
    # One CaptionSet, so BLEU and CIDEr-D share its n-gram counts.
    captions = CaptionSet(tokenized_references, tokenized_hypotheses)

    scores: dict[str, float] = {}
    per_image: dict[str, dict[Hashable, float]] = {}
    skipped: dict[str, str] = {}
    for key, score_names in requested.items():
        metric = METRICS[key]()
        reason = metric.unavailable_reason()
        if reason is not None:
            log.warning("%s skipped: %s", "/".join(score_names), reason)
            skipped.update((name, f"skipped: {reason}") for name in score_names)
            continue

        results = metric.score_captions(captions)
        for name in score_names:
            scores[name] = results[name].value
            per_image[name] = dict(zip(image_ids, results[name].per_image, strict=True))
    return Evaluation(scores, per_image, skipped)


def evaluate(
    references: Mapping[Hashable, Sequence[str]],
    hypotheses: Mapping[Hashable, object],
    metrics: Sequence[str] | None = None,
) -> dict[str, float]:
    """Return corpus scores by COCO name ("Bleu_1".."Bleu_4", "ROUGE_L", "CIDEr", ...).

    Same arguments as `evaluate_detailed`. A skipped metric (METEOR without Java) is absent
    from the dict and logged as a warning; `evaluate_detailed(...).skipped` gives the reason.
    """
    return evaluate_detailed(references, hypotheses, metrics).scores
