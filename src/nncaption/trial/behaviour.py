"""The behavioural contract test: named checks that run a freshly built Net on one real batch.

Runs inside the trial child process, before training. The checks stop at the first
failed error check, because the later ones need what it proved (a model that does not
build cannot be trained). A failed `inference` check is a warning: the harness decodes
through the teacher-forcing forward, and only LEMUR-style evaluation needs it.
"""

from __future__ import annotations

import contextlib
import logging
import sysconfig
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from nncaption.contract import PAD_ID
from nncaption.status import Status
from nncaption.trial.alarm import time_limit

log = logging.getLogger(__name__)

CHECK_NAMES = (
    "build", "param_budget", "teacher_forcing_shape", "finite_logits", "backward",
    "causality", "inference", "train_setup", "learn_steps", "epoch_time",
)
# Logits at earlier positions may move by float rounding when later tokens change.
CAUSALITY_TOLERANCE = 1e-4
# A decoding loop that waits for <EOS> may never end on an untrained model; the inference
# check gives up after this many seconds instead of spending the whole trial time-out.
INFERENCE_TIME_LIMIT_S = 30.0
_OOM_ERRORS: tuple[type[BaseException], ...] = (MemoryError,) + (
    (torch.OutOfMemoryError,) if hasattr(torch, "OutOfMemoryError") else ()
)


@dataclass
class CheckResult:
    """The outcome of one behavioural check."""

    name: str
    passed: bool
    severity: str  # 'error' or 'warning': how much a failure counts
    message: str
    seconds: float
    data: dict[str, Any] = field(default_factory=dict)  # measured values, e.g. the parameter count

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CheckFailed(Exception):
    """Raised inside a check to fail it with a message and the values it measured."""

    def __init__(self, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.data = data or {}


def first_failure(results: list[CheckResult]) -> CheckResult | None:
    """Return the first failed check of severity 'error', or None."""
    return next((r for r in results if not r.passed and r.severity == "error"), None)


def failure_status(result: CheckResult) -> Status:
    """Return the candidate status of a failed check: build_error for `build`, else smoke_failed."""
    return Status.BUILD_ERROR if result.name == "build" else Status.SMOKE_FAILED


_LIBRARY_DIRS = tuple(
    str(Path(p).resolve()) for p in {*sysconfig.get_paths().values(), Path(__file__).resolve().parents[1]}
)


def _candidate_location(exc: BaseException) -> str:
    """Return where in the model file `exc` was raised, e.g. " (model.py line 42, in forward)"."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = str(Path(frame.filename).resolve())
        if not frame.filename.startswith("<") and not path.startswith(_LIBRARY_DIRS):
            return f" ({Path(frame.filename).name} line {frame.lineno}, in {frame.name})"
    return ""


class _Runner:
    """Runs checks one by one, timing each and turning candidate exceptions into failed results."""

    def __init__(self, on_result: Callable[[CheckResult], None] | None) -> None:
        self.results: list[CheckResult] = []
        self.on_result = on_result

    def run(self, name: str, check: Callable[[], tuple[str, dict[str, Any]] | str],
            severity: str = "error") -> bool:
        started = time.perf_counter()
        data: dict[str, Any] = {}
        try:
            outcome = check()
            message, data = outcome if isinstance(outcome, tuple) else (outcome, {})
            passed = True
        except _OOM_ERRORS:
            raise  # the trial records out_of_memory, not a failed check
        except CheckFailed as exc:
            passed, message, data = False, str(exc), exc.data
        except Exception as exc:  # candidate code raised: the check fails with the error
            passed, message = False, f"{type(exc).__name__}: {exc}"[:1000] + _candidate_location(exc)
        result = CheckResult(name, passed, severity, message, time.perf_counter() - started, data)
        log.debug("check %s: %s (%s)", name, "passed" if passed else "failed", message)
        self.results.append(result)
        if self.on_result is not None:
            self.on_result(result)
        return passed or severity == "warning"


def run_behaviour_checks(
    build: Callable[[], torch.nn.Module],
    images: torch.Tensor,
    captions: torch.Tensor,
    vocab_size: int,
    prm: dict,
    param_budget: int,
    epoch_batches: int | None = None,
    epoch_time_limit_s: float | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Run the named behavioural checks on models from `build()` and one batch; return their results.

    `images` is [B, 3, H, W] float32 and `captions` [B, T] or [B, N, T] int64 starting with
    <SOS>. `on_result` receives each result as soon as it exists.
    """
    runner = _Runner(on_result)
    state = _State(images, captions.to(images.device), vocab_size)

    steps: list[tuple[str, Callable[[], Any], str]] = [
        ("build", lambda: state.build(build), "error"),
        ("param_budget", lambda: state.check_budget(param_budget), "error"),
        ("teacher_forcing_shape", state.check_teacher_forcing, "error"),
        ("finite_logits", state.check_finite, "error"),
        ("backward", state.check_backward, "error"),
        ("causality", state.check_causality, "error"),
        ("inference", state.check_inference, "warning"),
        ("train_setup", lambda: state.check_train_setup(build, prm), "error"),
        ("learn_steps", state.check_learn, "error"),
        ("epoch_time", lambda: state.check_epoch_time(epoch_batches, epoch_time_limit_s), "error"),
    ]
    for name, check, severity in steps:
        if not runner.run(name, check, severity):
            break
    return runner.results


class _State:
    """State shared by the checks: the batch, the model under test and the measured logits."""

    def __init__(self, images: torch.Tensor, captions: torch.Tensor, vocab_size: int) -> None:
        self.images = images
        self.captions = captions
        self.vocab_size = vocab_size
        self.model: torch.nn.Module | None = None
        self.logits: torch.Tensor | None = None
        self.trained: torch.nn.Module | None = None
        self.batch_seconds: float | None = None

    def build(self, build: Callable[[], torch.nn.Module]) -> tuple[str, dict[str, Any]]:
        model = build()
        if not isinstance(model, torch.nn.Module):
            raise CheckFailed(f"Net(...) returned a {type(model).__name__}, expected a torch.nn.Module")
        self.model = model
        return f"built {type(model).__name__}", {}

    def check_budget(self, budget: int) -> tuple[str, dict[str, Any]]:
        assert self.model is not None
        count = sum(p.numel() for p in self.model.parameters())
        data = {"parameters": count, "budget": budget}
        if count == 0:
            raise CheckFailed("the model has no parameters, so training cannot change it", data)
        if count > budget:
            raise CheckFailed(f"{count:,} parameters, over the budget of {budget:,}; make the model smaller", data)
        return f"{count:,} parameters (budget {budget:,})", data

    def _forward_logits(self, model: torch.nn.Module, captions: torch.Tensor) -> torch.Tensor:
        output = model(self.images, captions)
        if isinstance(output, tuple | list) and output:
            output = output[0]  # (logits, hidden_state)
        if not isinstance(output, torch.Tensor):
            raise CheckFailed(f"forward(images, captions) returned {type(output).__name__}, expected logits")
        return output

    def check_teacher_forcing(self) -> str:
        assert self.model is not None
        self.model.train()
        logits = self._forward_logits(self.model, self.captions)
        expected = (self.images.shape[0], self.captions.shape[-1] - 1, self.vocab_size)
        if tuple(logits.shape) != expected:
            raise CheckFailed(
                f"teacher-forcing logits have shape {list(logits.shape)}, expected [B, T-1, V] = {list(expected)} "
                f"for captions of shape {list(self.captions.shape)}"
            )
        if not logits.is_floating_point():
            raise CheckFailed(f"logits have dtype {logits.dtype}, expected a floating-point tensor")
        self.logits = logits
        return f"logits {list(logits.shape)}"

    def check_finite(self) -> str:
        assert self.logits is not None
        bad = int((~torch.isfinite(self.logits)).sum())
        if bad:
            raise CheckFailed(f"{bad} of {self.logits.numel()} logits are NaN or infinite")
        return "all logits finite"

    def check_backward(self) -> str:
        assert self.model is not None and self.logits is not None
        targets = self.captions[:, 0, 1:] if self.captions.dim() == 3 else self.captions[:, 1:]
        loss = F.cross_entropy(self.logits.reshape(-1, self.vocab_size), targets.reshape(-1), ignore_index=PAD_ID)
        loss.backward()
        params = [p for p in self.model.parameters() if p.requires_grad]
        reached = sum(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in params)
        if reached == 0:
            raise CheckFailed("the loss gradient reaches none of the parameters")
        return f"gradient reaches {reached} of {len(params)} trainable parameter tensors"

    def check_causality(self) -> str:
        assert self.model is not None
        self.model.eval()
        with torch.no_grad():
            return self._compare_prefixes(self.model)

    def _compare_prefixes(self, model: torch.nn.Module) -> str:
        steps = self.captions.shape[-1] - 1
        base = self._forward_logits(model, self.captions)
        again = self._forward_logits(model, self.captions)
        if not torch.allclose(base, again, atol=CAUSALITY_TOLERANCE):
            raise CheckFailed("two identical eval-mode forward calls gave different logits, so causality "
                              "cannot be checked; make forward deterministic in eval mode")
        generator = torch.Generator().manual_seed(0)
        for t in sorted({0, max(0, steps // 2 - 1), max(0, steps - 2)}):
            changed = self.captions.clone()
            low = min(4, self.vocab_size - 1)
            noise = torch.randint(low, self.vocab_size, changed[..., t + 1:].shape, generator=generator)
            changed[..., t + 1:] = noise.to(changed.device)
            logits = self._forward_logits(model, changed)
            diff = (logits[:, : t + 1] - base[:, : t + 1]).abs().max().item()
            if diff > CAUSALITY_TOLERANCE * max(1.0, base.abs().max().item()):
                raise CheckFailed(
                    f"logits at positions <= {t} changed by {diff:.3g} when only tokens after position {t} "
                    "changed: the decoder sees future tokens (add a causal mask)"
                )
        return "logits depend only on earlier tokens"

    def check_inference(self) -> str:
        assert self.model is not None
        self.model.eval()
        with torch.no_grad(), _time_limit(INFERENCE_TIME_LIMIT_S, "forward(images)"):
            output = self.model(self.images)
        if isinstance(output, tuple | list) and output:
            output = output[0]
        if not isinstance(output, torch.Tensor):
            raise CheckFailed(f"forward(images) returned {type(output).__name__}, expected token ids [B, L]")
        return _describe_inference(output, self.images.shape[0], self.vocab_size)

    def check_train_setup(self, build: Callable[[], torch.nn.Module], prm: dict) -> str:
        model = build()
        model.train_setup(prm)
        optimizers = [v for v in vars(model).values() if isinstance(v, torch.optim.Optimizer)]
        if not optimizers:
            raise CheckFailed("train_setup did not store a torch.optim.Optimizer on the model (e.g. self.optimizer)")
        own = {id(p) for p in model.parameters()}
        covered = {id(p) for opt in optimizers for group in opt.param_groups for p in group["params"]}
        if not own & covered:
            raise CheckFailed("the optimizer created in train_setup contains none of the model's parameters")
        self.trained = model
        return f"{type(optimizers[0]).__name__} over {len(own & covered)} of {len(own)} parameter tensors"

    def check_learn(self) -> tuple[str, dict[str, Any]]:
        assert self.trained is not None
        model = self.trained
        before = [p.detach().clone() for p in model.parameters()]
        batches = _TimedBatches([(self.images, self.captions), (self.images, self.captions)])
        model.train()
        model.learn(batches)
        changed = sum(not torch.equal(b, p.detach()) for b, p in zip(before, model.parameters(), strict=True))
        if batches.served < 2:
            raise CheckFailed(f"learn consumed {batches.served} of 2 batches; it must iterate over train_data")
        if changed == 0:
            raise CheckFailed("learn ran two batches but no parameter changed: does it call optimizer.step()?")
        if any(not torch.isfinite(p).all() for p in model.parameters()):
            raise CheckFailed("parameters are NaN or infinite after two learn steps")
        self.batch_seconds = batches.last_batch_seconds()
        data = {"batch_seconds": self.batch_seconds}
        return f"{changed} parameter tensors changed; {self.batch_seconds:.3f} s per batch", data

    def check_epoch_time(self, epoch_batches: int | None, limit_s: float | None) -> tuple[str, dict[str, Any]]:
        if epoch_batches is None or limit_s is None or self.batch_seconds is None:
            return "not checked: no epoch size or time limit given", {}
        projected = self.batch_seconds * epoch_batches
        data = {"projected_epoch_seconds": projected, "limit_seconds": limit_s}
        if projected > limit_s:
            raise CheckFailed(
                f"projected epoch time {projected:.0f} s ({epoch_batches} batches x {self.batch_seconds:.3f} s) "
                f"exceeds the limit of {limit_s:.0f} s; make the model faster or smaller",
                data,
            )
        return f"projected epoch time {projected:.1f} s (limit {limit_s:.0f} s)", data


def _time_limit(seconds: float, call: str) -> contextlib.AbstractContextManager[None]:
    return time_limit(seconds, lambda: CheckFailed(f"{call} did not finish within {seconds:.0f} s; does the decoding loop end?"))


def _describe_inference(output: torch.Tensor, batch: int, vocab_size: int) -> str:
    if output.dim() == 2 and not output.is_floating_point():
        if output.shape[0] != batch or output.shape[1] == 0:
            raise CheckFailed(f"inference ids have shape {list(output.shape)}, expected [B={batch}, L>0]")
        if output.numel() and (output.min() < 0 or output.max() >= vocab_size):
            raise CheckFailed(f"inference ids lie outside [0, {vocab_size})")
        return f"token ids {list(output.shape)}"
    if output.dim() == 3 and output.shape[0] == batch and output.shape[2] == vocab_size:
        return f"scores {list(output.shape)}"
    raise CheckFailed(
        f"forward(images) returned {output.dtype} {list(output.shape)}, expected ids [B, L] or scores [B, L, V={vocab_size}]"
    )


class _TimedBatches:
    """An iterable of batches that records when each batch is requested and when iteration ends."""

    def __init__(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.batches = batches
        self.stamps: list[float] = []
        self.served = 0

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for batch in self.batches:
            self._stamp()
            self.served += 1
            yield batch
        self._stamp()

    def _stamp(self) -> None:
        # CUDA kernels run asynchronously, so wait for them before reading the clock.
        # NOTE: the CUDA branch has not run in the tests, which are CPU only.
        device = self.batches[0][0].device
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        self.stamps.append(time.perf_counter())

    def last_batch_seconds(self) -> float:
        """Return the time of the last complete batch, which excludes first-call warm-up."""
        if len(self.stamps) >= 3:
            return self.stamps[-1] - self.stamps[-2]
        return self.stamps[-1] - self.stamps[0] if len(self.stamps) >= 2 else 0.0
