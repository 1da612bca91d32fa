"""Decode a whole val or test split inside the trial process, and seed a trial."""

from __future__ import annotations

import contextlib
import logging
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nncaption.data.loader import eval_images
from nncaption.data.vocab import Vocab
from nncaption.trial.alarm import time_limit
from nncaption.trial.decode import harness_decode, own_inference_tokens

log = logging.getLogger(__name__)

# The model's own decoding loop may never end on a model that never emits <EOS>; its
# secondary score is given up after this many seconds per split.
OWN_INFERENCE_TIME_LIMIT_S = 120.0


class OwnInferenceTimeout(Exception):
    """forward(images) ran past OWN_INFERENCE_TIME_LIMIT_S."""


def seed_everything(seed: int, threads: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) and fix the thread count, for repeatable trials."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def decode_split(model: torch.nn.Module, vocab: Vocab, request: dict[str, Any], split: str,
                 device: torch.device) -> dict[str, str]:
    """Return the harness hypotheses {image id: caption} for the split's chosen images."""
    model.eval()
    hypotheses = {}
    method, width = str(request.get("decoding", "greedy")), int(request.get("beam_width", 1))
    for image_ids, images in eval_images(Path(request["cache_dir"]), split, request.get(f"{split}_indices"),
                                         int(request.get("eval_batch_size", 100))):
        tokens = harness_decode(model, images.to(device), int(request["max_decode_len"]), method, width)
        for image_id, row in zip(image_ids, tokens.tolist(), strict=True):
            hypotheses[str(image_id)] = vocab.decode(row)
    return hypotheses


def own_inference_split(model: torch.nn.Module, vocab: Vocab, request: dict[str, Any], split: str,
                        device: torch.device) -> dict[str, Any]:
    """Decode the split with the model's own forward(images).

    Returns {"hypotheses", "seconds"}, or {"error", "seconds"} in place of any Exception
    the model raises, because this number is secondary and must not fail the trial.
    """
    started = time.monotonic()
    model.eval()
    hypotheses = {}
    try:
        with torch.no_grad(), _time_limit(OWN_INFERENCE_TIME_LIMIT_S):
            for image_ids, images in eval_images(Path(request["cache_dir"]), split, request.get(f"{split}_indices"),
                                                 int(request.get("eval_batch_size", 100))):
                tokens = own_inference_tokens(model, images.to(device))
                for image_id, row in zip(image_ids, tokens.tolist(), strict=True):
                    hypotheses[str(image_id)] = vocab.decode(row)
    except Exception as exc:  # noqa: BLE001  (a secondary number: any failure is recorded, not fatal)
        log.info("own inference on %s failed: %s: %s", split, type(exc).__name__, exc)
        return {"error": f"{type(exc).__name__}: {exc}", "seconds": time.monotonic() - started}
    return {"hypotheses": hypotheses, "seconds": time.monotonic() - started}


def _time_limit(seconds: float) -> contextlib.AbstractContextManager[None]:
    return time_limit(seconds, lambda: OwnInferenceTimeout(f"forward(images) did not finish within {seconds:.0f} s"))
