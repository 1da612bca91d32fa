"""pycocoevalcap 1.2 as the reference implementation for the parity tests."""

from __future__ import annotations

import contextlib
import io
import shutil
from collections.abc import Hashable, Mapping, Sequence

import pytest

bleu_module = pytest.importorskip(
    "pycocoevalcap.bleu.bleu", reason="pycocoevalcap==1.2 is a test dependency"
)
from pycocoevalcap.cider.cider import Cider  # noqa: E402
from pycocoevalcap.rouge.rouge import Rouge  # noqa: E402

BLEU_NAMES = ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4"]

requires_java = pytest.mark.skipif(
    shutil.which("java") is None, reason="needs Java to run pycocoevalcap's jars"
)


def coco_scores_from_tokens(
    references: Mapping[Hashable, Sequence[Sequence[str]]],
    hypotheses: Mapping[Hashable, Sequence[str]],
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Run pycocoevalcap's BLEU, ROUGE-L and CIDEr on already tokenized captions."""
    gts = {image_id: [" ".join(tokens) for tokens in refs] for image_id, refs in references.items()}
    res = {image_id: [" ".join(hypotheses[image_id])] for image_id in references}
    return coco_scores_from_strings(gts, res)


def coco_scores_from_strings(
    gts: dict, res: dict
) -> tuple[dict[str, float], dict[str, list[float]]]:
    scores: dict[str, float] = {}
    per_image: dict[str, list[float]] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        bleu, bleu_images = bleu_module.Bleu(4).compute_score(gts, res, verbose=0)
    for name, value, values in zip(BLEU_NAMES, bleu, bleu_images, strict=True):
        scores[name] = value
        per_image[name] = list(values)
    rouge, rouge_images = Rouge().compute_score(gts, res)
    scores["ROUGE_L"], per_image["ROUGE_L"] = float(rouge), [float(v) for v in rouge_images]
    cider, cider_images = Cider().compute_score(gts, res)
    scores["CIDEr"], per_image["CIDEr"] = float(cider), [float(v) for v in cider_images]
    return scores, per_image


def java_tokenize(captions_by_image: Mapping[Hashable, Sequence[str]]) -> dict[Hashable, list[str]]:
    """Tokenize with pycocoevalcap's PTBTokenizer (Stanford CoreNLP 3.4.1 through Java)."""
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    wrapped = {
        image_id: [{"caption": c} for c in captions]
        for image_id, captions in captions_by_image.items()
    }
    return PTBTokenizer().tokenize(wrapped)


# Largest allowed absolute difference to pycocoevalcap, per score.
TOLERANCE = {
    "Bleu_1": 1e-9,
    "Bleu_2": 1e-9,
    "Bleu_3": 1e-9,
    "Bleu_4": 1e-9,
    "ROUGE_L": 1e-9,
    "CIDEr": 1e-6,
}
