"""What runs inside the trial process: build, check, train, and decode a candidate.

Entry point for `nncaption.sandbox.run_in_sandbox(entry="nncaption.trial.child", ...)`.
Two modes, chosen by `request["mode"]`:
- `train`: build Net, run the behavioural checks, then for each epoch `learn` on the
  training batches, save a checkpoint and send the val hypotheses; the parent scores them.
- `evaluate`: build Net, load one checkpoint and send the test hypotheses.
Records sent to the parent: `phase`, `built`, `checks`, `epoch`, `result` and `error`.
The parent never receives references from here and the child never sees them.
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nncaption.data.loader import TrainBatches, eval_images
from nncaption.data.vocab import Vocab
from nncaption.trial.decode import greedy_decode
from nncaption.trial.modload import load_candidate

# Values given for hyperparameters a model declares but its proposal did not suggest.
HYPERPARAMETER_DEFAULTS: dict[str, float] = {
    "lr": 1e-3,
    "momentum": 0.9,
    "dropout": 0.1,
    "weight_decay": 0.0,
    "batch_size": 32,
    "epochs": 1,
}
EVAL_BATCH_SIZE = 100


class TrialFailure(Exception):
    """A candidate failure with a known status, raised inside the child."""

    def __init__(self, status: str, phase: str, message: str) -> None:
        super().__init__(message)
        self.status, self.phase = status, phase


def main(request: dict[str, Any], channel: Any) -> None:
    _seed_everything(int(request["seed"]), int(request.get("threads", 1)))
    try:
        if request["mode"] == "train":
            _train(request, channel)
        else:
            _evaluate(request, channel)
    except TrialFailure as failure:
        channel.send({"type": "error", "status": failure.status, "phase": failure.phase,
                      "error": "TrialFailure", "message": str(failure)})


def _seed_everything(seed: int, threads: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)


def _build(request: dict[str, Any], channel: Any) -> tuple[torch.nn.Module, dict[str, Any]]:
    channel.send({"type": "phase", "name": "build"})
    module = load_candidate(request["model_path"])
    prm = _hyperparameters(module, request.get("prm", {}))
    in_shape = (int(request["batch_size"]), 3, int(request["image_size"]), int(request["image_size"]))
    model = module.Net(in_shape, (int(request["vocab_size"]),), prm, torch.device("cpu"))
    if not isinstance(model, torch.nn.Module):
        raise TrialFailure("build_error", "build", f"Net(...) returned {type(model).__name__}, expected a torch.nn.Module")
    return model, prm


def _hyperparameters(module: Any, suggested: dict[str, Any]) -> dict[str, Any]:
    declared = set(module.supported_hyperparameters())
    prm = {}
    for key in sorted(declared):
        if key in suggested:
            prm[key] = suggested[key]
        elif key in HYPERPARAMETER_DEFAULTS:
            prm[key] = HYPERPARAMETER_DEFAULTS[key]
        else:
            raise TrialFailure("contract_violation", "build", f"no value for hyperparameter {key!r}: the proposal did not suggest one and it has no default")
    return prm


def _train(request: dict[str, Any], channel: Any) -> None:
    started = time.monotonic()
    try:
        model, prm = _build(request, channel)
    except TrialFailure:
        raise
    except Exception as exc:
        raise TrialFailure("build_error", "build", f"{type(exc).__name__}: {exc}") from exc
    parameters = sum(p.numel() for p in model.parameters())
    channel.send({"type": "built", "parameters": parameters, "prm": prm, "seconds": time.monotonic() - started})
    if parameters > int(request["param_budget"]):
        raise TrialFailure("smoke_failed", "behaviour", f"{parameters} parameters exceed the budget of {request['param_budget']}")

    batches = TrainBatches(Path(request["cache_dir"]), int(request["batch_size"]), int(request["seed"]))
    vocab = Vocab.load(Path(request["cache_dir"]) / "vocab.json")
    _run_behaviour_checks(request, channel, model, prm, batches)

    channel.send({"type": "phase", "name": "train_setup"})
    model.train_setup(prm)
    checkpoints = Path("checkpoints")
    checkpoints.mkdir(exist_ok=True)
    for epoch in range(1, int(request["epochs"]) + 1):
        channel.send({"type": "phase", "name": f"epoch {epoch}"})
        batches.set_epoch(epoch)
        epoch_started = time.monotonic()
        loss = model.learn(batches)
        train_seconds = time.monotonic() - epoch_started
        train_loss = _finite_loss(loss, epoch)
        _check_parameters(model, epoch)
        torch.save(model.state_dict(), checkpoints / f"epoch_{epoch}.pt")

        eval_started = time.monotonic()
        hypotheses = _decode_split(model, vocab, request, "val")
        channel.send({"type": "epoch", "epoch": epoch, "train_loss": train_loss, "train_seconds": train_seconds,
                      "eval_seconds": time.monotonic() - eval_started, "hypotheses": hypotheses,
                      "images_per_second": len(batches.images) / max(train_seconds, 1e-9)})
    channel.send({"type": "result", "mode": "train", "parameters": parameters, "seconds": time.monotonic() - started})


def _run_behaviour_checks(request: dict[str, Any], channel: Any, model: torch.nn.Module, prm: dict[str, Any], batches: TrainBatches) -> None:
    """The behavioural contract test, on a fresh model built the same way."""
    channel.send({"type": "phase", "name": "behaviour"})
    try:
        from nncaption.trial.behaviour import first_failure, run_behaviour_checks
    except ImportError:  # NOTE: behaviour checks arrive with the contract module; until then only shapes are checked
        return
    images, captions = next(iter(batches))
    module = load_candidate(request["model_path"], name="candidate_model_check")
    build = lambda: module.Net(tuple(images.shape), (int(request["vocab_size"]),), prm, torch.device("cpu"))  # noqa: E731
    results = run_behaviour_checks(build, images[:8], captions[:8], int(request["vocab_size"]), prm, int(request["param_budget"]), epoch_batches=len(batches), epoch_time_limit_s=request.get("epoch_time_limit_s"))
    channel.send({"type": "checks", "results": [r.to_dict() for r in results]})
    failure = first_failure(results)
    if failure is not None:
        raise TrialFailure("smoke_failed", "behaviour", f"check {failure.name} failed: {failure.message}")


def _finite_loss(loss: Any, epoch: int) -> float | None:
    if loss is None:
        return None
    try:
        value = float(loss.item() if hasattr(loss, "item") else loss)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value):
        raise TrialFailure("diverged", "train", f"training loss is {value} after epoch {epoch}")
    return value


def _check_parameters(model: torch.nn.Module, epoch: int) -> None:
    for name, parameter in model.named_parameters():
        if not torch.isfinite(parameter).all():
            raise TrialFailure("diverged", "train", f"parameter {name} has non-finite values after epoch {epoch}")


def _decode_split(model: torch.nn.Module, vocab: Vocab, request: dict[str, Any], split: str) -> dict[str, str]:
    model.eval()
    hypotheses = {}
    indices = request.get(f"{split}_indices")
    with torch.no_grad():
        for image_ids, images in eval_images(Path(request["cache_dir"]), split, indices, EVAL_BATCH_SIZE):
            tokens = greedy_decode(model, images, int(request["max_decode_len"]))
            for image_id, row in zip(image_ids, tokens.tolist()):
                hypotheses[str(image_id)] = vocab.decode(row)
    return hypotheses


def _evaluate(request: dict[str, Any], channel: Any) -> None:
    started = time.monotonic()
    try:
        model, _ = _build(request, channel)
        model.load_state_dict(torch.load(request["checkpoint"], map_location="cpu", weights_only=True))
    except Exception as exc:
        raise TrialFailure("train_error", "evaluate", f"cannot restore the selected checkpoint: {type(exc).__name__}: {exc}") from exc
    vocab = Vocab.load(Path(request["cache_dir"]) / "vocab.json")
    channel.send({"type": "phase", "name": "evaluate"})
    hypotheses = _decode_split(model, vocab, request, request.get("split", "test"))
    channel.send({"type": "result", "mode": "evaluate", "hypotheses": hypotheses, "seconds": time.monotonic() - started})
