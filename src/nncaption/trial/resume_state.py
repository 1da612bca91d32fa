"""The resume state of a training child: what continuing after a finished epoch needs.

Written by the trial process after each finished epoch, next to the epoch checkpoint, and
read back only by a trial process (`torch.load(..., weights_only=True)`), never by the
parent. It contains the model's state_dict and the state_dicts of the optimizers, LR
schedulers and GradScalers that the Net has as attributes. It also contains the Net's plain
scalar attributes (step counters) and the Python, NumPy, torch and CUDA random states.
Last come the epoch number and the epoch record sent to the parent, so that an epoch whose
record the parent never scored can be sent again.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

RESUME_FILE = Path("checkpoints") / "resume.pt"
FORMAT_VERSION = 1
SCALAR_TYPES = (bool, int, float, str)


class ResumeError(Exception):
    """The resume state is missing, unreadable or does not fit the rebuilt Net."""


def state_holders(model: torch.nn.Module) -> dict[str, Any]:
    """Find the Net's optimizers, LR schedulers and GradScalers by walking `vars(model)`.

    A holder is any attribute value with `state_dict` and `load_state_dict` that is not an
    nn.Module, also inside a list or tuple attribute (named `attribute.index`).
    """
    holders = {}
    for name, value in sorted(vars(model).items()):
        if name.startswith("_"):
            continue
        if isinstance(value, (list, tuple)):
            holders.update({f"{name}.{i}": item for i, item in enumerate(value) if _is_holder(item)})
        elif _is_holder(value):
            holders[name] = value
    return holders


def _is_holder(value: Any) -> bool:
    if isinstance(value, torch.nn.Module):
        return False
    return callable(getattr(value, "state_dict", None)) and callable(getattr(value, "load_state_dict", None))


def _scalar_attributes(model: torch.nn.Module) -> dict[str, Any]:
    """Public bool, int, float and str attributes of the Net itself, such as a step counter."""
    return {name: value for name, value in sorted(vars(model).items())
            if not name.startswith("_") and name != "training" and type(value) in SCALAR_TYPES}


def capture_rng() -> dict[str, Any]:
    """Return the Python, NumPy, torch and (when initialised) CUDA random states as tensors and lists."""
    version, internal, gauss_next = random.getstate()
    kind, keys, position, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss_next],
        "numpy": [kind, keys.tolist(), int(position), int(has_gauss), float(cached_gaussian)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Set the random states that `capture_rng` returned."""
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    kind, keys, position, has_gauss, cached_gaussian = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached_gaussian))
    # The states are CPU byte tensors, whatever map_location the file was loaded with.
    torch.set_rng_state(state["torch"].cpu())
    # NOTE: the CUDA branches here and in capture_rng have not run in the tests, which use the CPU only.
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def save(path: Path, model: torch.nn.Module, epoch: int, record: dict[str, Any]) -> None:
    """Write the resume state after `epoch` atomically: a temporary file, then os.replace over `path`."""
    state = {
        "format": FORMAT_VERSION,
        "epoch": epoch,
        "model": model.state_dict(),
        "holders": {name: holder.state_dict() for name, holder in state_holders(model).items()},
        "scalars": _scalar_attributes(model),
        "rng": capture_rng(),
        "record": record,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(path.name + ".tmp")
    torch.save(state, staging)
    os.replace(staging, path)


def read(path: Path, device: torch.device) -> dict[str, Any]:
    """Load a resume state with `weights_only=True`. Raise ResumeError when it is missing or unreadable."""
    if not path.is_file():
        raise ResumeError(f"no resume state at {path}")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001  (a truncated or foreign file: any load failure means "unreadable")
        raise ResumeError(f"cannot read the resume state {path}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(state, dict):
        raise ResumeError(f"the resume state {path} contains a {type(state).__name__}, expected a dict")
    missing = [key for key in ("format", "epoch", "model", "holders", "scalars", "rng", "record") if key not in state]
    if missing:
        raise ResumeError(f"the resume state {path} is missing the entries {missing}")
    if state["format"] != FORMAT_VERSION:
        raise ResumeError(f"the resume state {path} has format {state['format']}, expected {FORMAT_VERSION}")
    return state


def check_fits(state: dict[str, Any], model: torch.nn.Module) -> None:
    """Raise ResumeError unless the saved parameter names and shapes and holder names match the rebuilt Net."""
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    saved = {name: tuple(t.shape) for name, t in state["model"].items()}
    if saved != expected:
        changed = sorted(set(saved.items()) ^ set(expected.items()))[:3]
        raise ResumeError(f"the saved model state does not match the rebuilt Net (first differences: {changed})")
    holders = sorted(state_holders(model))
    if sorted(state["holders"]) != holders:
        raise ResumeError(f"after train_setup the Net has the state holders {holders}, "
                          f"but the resume state has {sorted(state['holders'])}")


def load_into(state: dict[str, Any], model: torch.nn.Module) -> None:
    """Load the model, the holders, the scalar attributes and the random states. Raise ResumeError on a mismatch."""
    check_fits(state, model)
    try:
        model.load_state_dict(state["model"])
        for name, holder in state_holders(model).items():
            holder.load_state_dict(state["holders"][name])
    except Exception as exc:  # noqa: BLE001  (candidate-defined holders may raise anything on a mismatch)
        raise ResumeError(f"cannot load the resume state into the Net: {type(exc).__name__}: {exc}") from exc
    current = vars(model)
    for name, value in state["scalars"].items():
        if name not in current or type(current[name]) in SCALAR_TYPES:
            setattr(model, name, value)
    restore_rng(state["rng"])


def state_files(trial_dir: Path) -> Iterator[Path]:
    """Yield the resume state and its temporary file in a trial folder."""
    path = Path(trial_dir) / RESUME_FILE
    yield path
    yield path.with_name(path.name + ".tmp")
