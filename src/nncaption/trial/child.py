"""What runs inside the trial process: build, check, train, and decode a candidate.

Entry point for `nncaption.sandbox.run_in_sandbox(entry="nncaption.trial.child", ...)`.
Two modes, chosen by `request["mode"]`:
- `train`: build Net, run the behavioural checks and measure FLOPs. Then, for each
  epoch, `learn` on the training batches, save a checkpoint and the resume state
  (`trial.resume_state`) and send the val hypotheses. The parent scores them and writes
  its verdict (`trial.control`) before the next epoch. With `resume_after` in the request,
  the child skips the checks, loads the resume state, sends the saved epoch's record
  again and trains on from the next epoch. When the state cannot be used, it starts afresh.
- `evaluate`: build Net, load one checkpoint and send the hypotheses of one split.
Records sent to the parent: `phase`, `built`, `checks`, `costs`, `resumed`, `epoch`,
`stopped`, `result` and `error`. The parent never receives references from here and the child
never reads them.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch

from nncaption.data.loader import TrainBatches
from nncaption.data.vocab import Vocab
from nncaption.sandbox.outcome import is_allocation_failure
from nncaption.trial import control, resume_state
from nncaption.trial.costs import flops_per_image, peak_memory
from nncaption.trial.decode import NonFiniteLogits, teacher_forcing_logits
from nncaption.trial.modload import load_candidate
from nncaption.trial.splits import decode_split, own_inference_split, seed_everything

# Values given for hyperparameters a model declares but its proposal did not suggest.
HYPERPARAMETER_DEFAULTS: dict[str, float] = {
    "lr": 1e-3,
    "momentum": 0.9,
    "dropout": 0.1,
    "weight_decay": 0.0,
    "batch_size": 32,
    "epochs": 1,
}
# An epoch phase may run this many times the per-epoch limit before the sandbox ends
# the trial. The parent's check on measured epoch times normally stops training first.
EPOCH_PHASE_OVERRUN = 2.0
VERDICT_WAIT_S = 600.0  # the parent scores one epoch's val hypotheses in this time at most
PROBE_IMAGES = 32  # training images of the fixed batch whose loss the harness measures each epoch


class TrialFailure(Exception):
    """A candidate failure with a known status, raised inside the child."""

    def __init__(self, status: str, phase: str, message: str) -> None:
        super().__init__(message)
        self.status, self.phase = status, phase


def main(request: dict[str, Any], channel: Any) -> None:
    seed_everything(int(request["seed"]), int(request.get("threads", 1)))
    try:
        if request["mode"] == "train":
            _train(request, channel)
        else:
            _evaluate(request, channel)
    except TrialFailure as failure:
        # A failed allocation is out_of_memory in every phase, also when candidate code or a
        # check turned it into another exception type ("DefaultCPUAllocator: can't allocate memory").
        status = "out_of_memory" if is_allocation_failure(str(failure)) else failure.status
        channel.send({"type": "error", "status": status, "phase": failure.phase,
                      "error": "TrialFailure", "message": str(failure)})


def resolve_device(name: str) -> torch.device:
    """`auto` is cuda when a GPU is visible, else cpu; any other name is passed to torch.device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _build(request: dict[str, Any], channel: Any, device: torch.device) -> tuple[torch.nn.Module, dict[str, Any]]:
    channel.send({"type": "phase", "name": "build"})
    try:
        module = load_candidate(request["model_path"])
        prm = _hyperparameters(module, request.get("prm", {}))
        size = int(request["image_size"])
        model = module.Net((int(request["batch_size"]), 3, size, size), (int(request["vocab_size"]),), prm, device)
    except (TrialFailure, MemoryError, torch.OutOfMemoryError):
        raise
    except Exception as exc:  # noqa: BLE001  (candidate code: any exception is a build error)
        raise TrialFailure("build_error", "build", f"{type(exc).__name__}: {exc}") from exc
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
    device = resolve_device(str(request.get("device", "cpu")))
    model, prm, parameters = _build_within_budget(request, channel, device, started)
    seed, threads = int(request["seed"]), int(request.get("threads", 1))
    batches = TrainBatches(Path(request["cache_dir"]), int(request["batch_size"]), seed)
    vocab = Vocab.load(Path(request["cache_dir"]) / "vocab.json")
    epochs = int(request["epochs"])
    Path("checkpoints").mkdir(exist_ok=True)

    # A resumed trial continues after the epoch of its resume state. When that state cannot
    # be used, the Net is rebuilt from the seed, so the fresh start equals a first run.
    state = _resume(request, channel, model, prm, device) if "resume_after" in request else None
    if state is None and "resume_after" in request:
        seed_everything(seed, threads)
        model, prm, parameters = _build_within_budget(request, channel, device, started)
    probe = _probe_batch(batches)
    if state is None:
        flops = _prepare_training(request, channel, model, prm, batches, device, probe)
        next_epoch = 1
    else:
        flops = None  # measured by the first run; the parent keeps that figure
        next_epoch = _replay_epoch(channel, model, state, epochs)

    for epoch in range(next_epoch, epochs + 1):
        _run_epoch(request, channel, model, batches, vocab, device, epoch, probe)
        if epoch < epochs and not _parent_continues(channel, epoch):
            break
    channel.send({"type": "result", "mode": "train", "parameters": parameters, "flops_per_image": flops,
                  "seconds": time.monotonic() - started, **peak_memory(device)})


def _build_within_budget(request: dict[str, Any], channel: Any, device: torch.device,
                         started: float) -> tuple[torch.nn.Module, dict[str, Any], int]:
    model, prm = _build(request, channel, device)
    parameters = sum(p.numel() for p in model.parameters())
    channel.send({"type": "built", "parameters": parameters, "prm": prm, "device": str(device),
                  "seconds": time.monotonic() - started})
    if parameters > int(request["param_budget"]):
        raise TrialFailure("smoke_failed", "behaviour", f"{parameters} parameters exceed the budget of {request['param_budget']}")
    return model, prm, parameters


def _prepare_training(request: dict[str, Any], channel: Any, model: torch.nn.Module, prm: dict[str, Any],
                      batches: TrainBatches, device: torch.device, probe: tuple[torch.Tensor, torch.Tensor]) -> float | None:
    """Run the behavioural checks, measure FLOPs and call train_setup; return the FLOPs per image."""
    _run_behaviour_checks(request, channel, prm, batches, device)
    flops = flops_per_image(model, probe[0].to(device), probe[1].to(device))
    channel.send({"type": "costs", "parameters": sum(p.numel() for p in model.parameters()), "flops_per_image": flops})

    # Training starts from the same random state whatever the checks consumed.
    seed_everything(int(request["seed"]), int(request.get("threads", 1)))
    channel.send({"type": "phase", "name": "train_setup"})
    _call_candidate(lambda: model.train_setup(prm), "train_setup")
    return flops


def _resume(request: dict[str, Any], channel: Any, model: torch.nn.Module, prm: dict[str, Any],
            device: torch.device) -> dict[str, Any] | None:
    """Call train_setup and load the resume state into the Net.

    Sends a `resumed` record with the epoch of the state. When the state is missing,
    unreadable or does not fit, the record has epoch 0 and the reason, and the function
    returns None.
    """
    channel.send({"type": "phase", "name": "resume"})
    try:
        state = resume_state.read(resume_state.RESUME_FILE, device)
        _check_resume_epoch(int(state["epoch"]), int(request["resume_after"]), int(request["epochs"]))
        seed_everything(int(request["seed"]), int(request.get("threads", 1)))
        _call_candidate(lambda: model.train_setup(prm), "train_setup")
        resume_state.load_into(state, model)
    except resume_state.ResumeError as exc:
        channel.send({"type": "resumed", "epoch": 0, "reason": str(exc)})
        return None
    # Decoding val left every module in eval mode at the end of the saved epoch.
    model.eval()
    channel.send({"type": "resumed", "epoch": int(state["epoch"])})
    return state


def _check_resume_epoch(epoch: int, journal_epochs: int, epochs: int) -> None:
    """The parent has scored epochs 1..journal_epochs; the state must continue from there or one epoch later."""
    if not 1 <= epoch <= epochs:
        raise resume_state.ResumeError(f"the resume state is from epoch {epoch}, outside 1..{epochs}")
    if epoch not in (journal_epochs, journal_epochs + 1):
        raise resume_state.ResumeError(f"the resume state is from epoch {epoch} but the parent's epoch journal "
                                       f"ends at epoch {journal_epochs}")


def _replay_epoch(channel: Any, model: torch.nn.Module, state: dict[str, Any], epochs: int) -> int:
    """Send the saved epoch's record again and wait for the verdict; return the next epoch to train.

    The parent drops its scores from this epoch on when it reads the `resumed` record, so the
    replayed record is scored again and yields the same verdict as the first time.
    """
    epoch = int(state["epoch"])
    checkpoint = Path("checkpoints") / f"epoch_{epoch}.pt"
    if not checkpoint.is_file():
        torch.save(state["model"], checkpoint)
    channel.send({**state["record"], "replayed": True})
    if epoch < epochs and not _parent_continues(channel, epoch):
        return epochs + 1
    return epoch + 1


def _run_epoch(request: dict[str, Any], channel: Any, model: torch.nn.Module, batches: TrainBatches, vocab: Vocab,
               device: torch.device, epoch: int, probe: tuple[torch.Tensor, torch.Tensor]) -> None:
    """Train one epoch, check its health, save its checkpoint and resume state, and send its val hypotheses."""
    limit = request.get("epoch_time_limit_s")
    phase: dict[str, Any] = {"type": "phase", "name": f"epoch-{epoch}"}
    if limit:
        phase["timeout_s"] = float(limit) * EPOCH_PHASE_OVERRUN
    channel.send(phase)
    batches.set_epoch(epoch)
    epoch_started = time.monotonic()
    loss = _call_candidate(lambda: model.learn(batches), "learn")
    _synchronize(device)
    train_seconds = time.monotonic() - epoch_started
    train_loss = _finite_loss(loss, epoch)
    _check_parameters(model, epoch)
    probe_loss = _probe_loss(model, probe, device, epoch)
    torch.save(model.state_dict(), Path("checkpoints") / f"epoch_{epoch}.pt")

    channel.send({"type": "phase", "name": f"val-{epoch}"})
    eval_started = time.monotonic()
    hypotheses = _decode_or_diverge(model, vocab, request, "val", device)
    eval_seconds = time.monotonic() - eval_started
    own = own_inference_split(model, vocab, request, "val", device) if request.get("score_own_inference") else None
    record = {"type": "epoch", "epoch": epoch, "train_loss": train_loss, "probe_loss": probe_loss,
              "train_seconds": train_seconds, "eval_seconds": eval_seconds, "hypotheses": hypotheses,
              "own": own, "images_per_second": len(batches.images) / max(train_seconds, 1e-9), **peak_memory(device)}
    # Saved before the record is sent: the parent journals an epoch only after its resume state exists.
    resume_state.save(resume_state.RESUME_FILE, model, epoch, record)
    channel.send(record)


def _parent_continues(channel: Any, epoch: int) -> bool:
    channel.send({"type": "phase", "name": f"verdict-{epoch}"})
    verdict = control.wait_for_verdict(Path.cwd(), epoch, VERDICT_WAIT_S)
    if verdict is None:
        raise TrialFailure("train_error", "verdict", f"no verdict from the parent on epoch {epoch} within {VERDICT_WAIT_S:g} s")
    if not verdict.get("continue", False):
        channel.send({"type": "stopped", "epoch": epoch, "reason": verdict.get("reason", "")})
        return False
    return True


def _call_candidate(call: Any, name: str) -> Any:
    """Run one call into candidate code; its exceptions become train errors, allocation failures propagate."""
    try:
        return call()
    except (MemoryError, torch.OutOfMemoryError):
        raise
    except Exception as exc:  # noqa: BLE001  (candidate code: any exception is a train error)
        raise TrialFailure("train_error", name, f"{name} raised {type(exc).__name__}: {exc}") from exc


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _run_behaviour_checks(request: dict[str, Any], channel: Any, prm: dict[str, Any], batches: TrainBatches,
                          device: torch.device) -> None:
    """Run the behavioural contract test on fresh models built the same way; raise TrialFailure on a failed check."""
    from nncaption.trial.behaviour import first_failure, run_behaviour_checks

    channel.send({"type": "phase", "name": "behaviour"})
    images, captions = next(iter(batches))
    module = load_candidate(request["model_path"], name="candidate_model_check")
    vocab_size = int(request["vocab_size"])
    build = lambda: module.Net(tuple(images.shape), (vocab_size,), prm, device)  # noqa: E731
    results = run_behaviour_checks(build, images[:8].to(device), captions[:8], vocab_size, prm,
                                   int(request["param_budget"]), epoch_batches=len(batches),
                                   epoch_time_limit_s=request.get("epoch_time_limit_s"))
    channel.send({"type": "checks", "results": [r.to_dict() for r in results]})
    failure = first_failure(results)
    if failure is None:
        return
    if failure.name == "epoch_time":
        raise TrialFailure("timeout", "behaviour", f"projected epoch time over the limit: {failure.message}")
    status = "build_error" if failure.name == "build" else "smoke_failed"
    raise TrialFailure(status, "behaviour", f"check {failure.name} failed: {failure.message}")


def _probe_batch(batches: TrainBatches) -> tuple[torch.Tensor, torch.Tensor]:
    """Return a fixed batch of training images and their first references, the same in every epoch."""
    batches.set_epoch(0)
    images, captions = next(iter(batches))
    return images[:PROBE_IMAGES], captions[:PROBE_IMAGES, 0]


def _probe_loss(model: torch.nn.Module, probe: tuple[torch.Tensor, torch.Tensor], device: torch.device, epoch: int) -> float:
    """Token cross-entropy of the probe batch under teacher forcing; non-finite logits or loss mean divergence."""
    images, captions = probe[0].to(device), probe[1].to(device)
    model.eval()
    with torch.no_grad():
        logits = _call_candidate(lambda: teacher_forcing_logits(model, images, captions), "forward").float()
    if not torch.isfinite(logits).all():
        raise TrialFailure("diverged", "train", f"forward returns non-finite logits on training images after epoch {epoch}")
    targets = captions[:, 1:]
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=0)
    return float(loss)


def _finite_loss(loss: Any, epoch: int) -> float | None:
    if loss is None:
        return None
    try:
        value = float(loss.item() if hasattr(loss, "item") else loss)
    except (TypeError, ValueError, RuntimeError):
        return None
    if not math.isfinite(value):
        raise TrialFailure("diverged", "train", f"training loss is {value} after epoch {epoch}")
    return value


def _check_parameters(model: torch.nn.Module, epoch: int) -> None:
    for name, parameter in model.named_parameters():
        if not torch.isfinite(parameter).all():
            raise TrialFailure("diverged", "train", f"parameter {name} has non-finite values after epoch {epoch}")


def _decode_or_diverge(model: torch.nn.Module, vocab: Vocab, request: dict[str, Any], split: str,
                       device: torch.device) -> dict[str, str]:
    try:
        return decode_split(model, vocab, request, split, device)
    except NonFiniteLogits as exc:
        raise TrialFailure("diverged", f"decode {split}", str(exc)) from exc
    except (MemoryError, torch.OutOfMemoryError):
        raise
    except Exception as exc:  # noqa: BLE001  (candidate code: any exception is a train error)
        raise TrialFailure("train_error", f"decode {split}", f"forward raised {type(exc).__name__} while decoding {split}: {exc}") from exc


def _evaluate(request: dict[str, Any], channel: Any) -> None:
    started = time.monotonic()
    device = resolve_device(str(request.get("device", "cpu")))
    model, _ = _build(request, channel, device)
    try:
        model.load_state_dict(torch.load(request["checkpoint"], map_location=device, weights_only=True))
    except Exception as exc:  # noqa: BLE001  (a state dict that does not fit the rebuilt model)
        raise TrialFailure("train_error", "evaluate", f"cannot restore the selected checkpoint: {type(exc).__name__}: {exc}") from exc
    vocab = Vocab.load(Path(request["cache_dir"]) / "vocab.json")
    split = request.get("split", "test")
    channel.send({"type": "phase", "name": "evaluate"})
    hypotheses = _decode_or_diverge(model, vocab, request, split, device)
    own = own_inference_split(model, vocab, request, split, device) if request.get("score_own_inference") else None
    channel.send({"type": "result", "mode": "evaluate", "split": split, "hypotheses": hypotheses, "own": own,
                  "seconds": time.monotonic() - started})
