"""The constant caption is scored on the same val and test images as the trials."""

from __future__ import annotations

from nncaption.config import load_config
from nncaption.metrics import evaluate
from nncaption.trial.runner import _subset_references, constant_caption_scores, subset_indices


def test_whole_splits_use_manifest(tiny_prepared):
    config = load_config(None, ["data.val_images=0", "data.test_images=0"])
    constant = tiny_prepared.manifest["constant_caption"]

    scores = constant_caption_scores(tiny_prepared, config)

    assert scores["val_bleu4"] == constant["val_bleu4"]
    assert scores["test_bleu4"] == constant["test_bleu4"]
    assert "val_images" not in scores
    assert "test_images" not in scores


def test_subsets_rescored_on_trial_images(tiny_prepared):
    total = tiny_prepared.manifest["splits"]["test"]["images"]
    config = load_config(None, ["data.val_images=0", f"data.test_images={total // 2}"])
    indices = subset_indices(tiny_prepared, "test", total // 2, config.trial.subset_seed)
    references = _subset_references(tiny_prepared, "test", indices)
    caption = tiny_prepared.manifest["constant_caption"]["caption"]
    expected = evaluate(references, {key: caption for key in references}, ["bleu"])["Bleu_4"]

    scores = constant_caption_scores(tiny_prepared, config)

    assert scores["test_images"] == total // 2
    assert scores["test_bleu4"] == expected
    assert scores["val_bleu4"] == tiny_prepared.manifest["constant_caption"]["val_bleu4"]


def test_subset_figure_differs_from_whole(tiny_prepared):
    total = tiny_prepared.manifest["splits"]["test"]["images"]
    config = load_config(None, [f"data.test_images={total // 2}"])

    scores = constant_caption_scores(tiny_prepared, config)

    # The precondition of the test above: on this data the subset's figure is not the whole split's.
    assert scores["test_bleu4"] != tiny_prepared.manifest["constant_caption"]["test_bleu4"]
