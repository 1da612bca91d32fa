"""Sandbox entry of `nncaption check`: the behavioural checks on a synthetic batch, in the child process.

The request names the model file (relative to the working directory) and the batch
shape. The child sends one `{"type": "check", ...}` record per check as it finishes and a
final `{"type": "result", "passed": bool, "checks": [...]}` record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any, Protocol

import torch

from nncaption.contract import (
    DEFAULT_HYPERPARAMETERS,
    DEFAULT_PARAM_BUDGET,
    EOS_ID,
    FALLBACK_HYPERPARAMETER,
    PAD_ID,
    SOS_ID,
)
from nncaption.trial.behaviour import (
    CheckResult,
    _candidate_location,
    first_failure,
    run_behaviour_checks,
)
from nncaption.trial.modload import load_candidate

log = logging.getLogger(__name__)

DEFAULT_REQUEST: dict[str, Any] = {
    "model_path": "model.py",
    "batch_size": 4,
    "image_size": 32,
    "vocab_size": 50,
    "references": 5,
    "seq_len": 12,  # tokens per caption, <SOS> and <EOS> included
    "seed": 0,
    "param_budget": DEFAULT_PARAM_BUDGET,
    "threads": 1,
}


class Channel(Protocol):
    def send(self, record: dict[str, Any]) -> None: ...


def synthetic_batch(
    batch_size: int, image_size: int, vocab_size: int, references: int, seq_len: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return random images [B, 3, S, S] and captions [B, N, T]: <SOS>, words, <EOS>, then <PAD>."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(batch_size, 3, image_size, image_size, generator=generator)
    captions = torch.randint(4, vocab_size, (batch_size, references, seq_len), generator=generator)
    captions[..., 0] = SOS_ID

    # Each reference ends at a random length of at least 2 words; the rest is padding.
    lengths = torch.randint(3, seq_len, (batch_size, references), generator=generator)
    positions = torch.arange(seq_len).view(1, 1, -1)
    ends = lengths.unsqueeze(-1)
    captions = torch.where(positions == ends, torch.full_like(captions, EOS_ID), captions)
    captions = torch.where(positions > ends, torch.full_like(captions, PAD_ID), captions)
    return images, captions


def hyperparameters_for(names: Iterable[object]) -> dict[str, float]:
    """Return check-time values for the declared hyperparameter names."""
    return {str(name): DEFAULT_HYPERPARAMETERS.get(str(name), FALLBACK_HYPERPARAMETER) for name in names}


def main(request: dict[str, Any], channel: Channel) -> None:
    settings = {**DEFAULT_REQUEST, **request}
    torch.manual_seed(int(settings["seed"]))
    torch.set_num_threads(int(settings["threads"]))
    vocab_size = int(settings["vocab_size"])
    images, captions = synthetic_batch(
        int(settings["batch_size"]), int(settings["image_size"]), vocab_size,
        int(settings["references"]), int(settings["seq_len"]), int(settings["seed"]),
    )

    started = time.perf_counter()
    try:
        module = load_candidate(settings["model_path"])
        prm = hyperparameters_for(module.supported_hyperparameters())
    except Exception as exc:  # the candidate failed to import: a build failure, reported as data
        message = f"loading the model file failed: {type(exc).__name__}: {exc}"[:1000] + _candidate_location(exc)
        failed = CheckResult("build", False, "error", message, time.perf_counter() - started)
        channel.send({"type": "check", **failed.to_dict()})
        channel.send({"type": "result", "passed": False, "checks": [failed.to_dict()]})
        return

    device = torch.device("cpu")
    in_shape = tuple(images.shape)
    results = run_behaviour_checks(
        lambda: module.Net(in_shape, (vocab_size,), prm, device),
        images,
        captions,
        vocab_size,
        prm,
        int(settings["param_budget"]),
        on_result=lambda result: channel.send({"type": "check", **result.to_dict()}),
    )
    channel.send({
        "type": "result",
        "passed": first_failure(results) is None,
        "prm": prm,
        "checks": [result.to_dict() for result in results],
    })
