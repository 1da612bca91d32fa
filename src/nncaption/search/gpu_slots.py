"""Spread concurrent trials over the visible GPUs, one GPU per trial, least-loaded first.

With `trial.device` set to `auto` or `cuda` and several GPUs visible, each trial child gets
`CUDA_VISIBLE_DEVICES` set to one GPU, so inside the child that GPU is `cuda` and the
other GPUs do not exist. `cuda:N` pins every trial to GPU N as before, and `cpu` uses none.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping


def visible_gpus(count: int, environ: Mapping[str, str] | None = None) -> list[str]:
    """Return the ids of the first `count` visible GPUs, as CUDA_VISIBLE_DEVICES names them.

    Without CUDA_VISIBLE_DEVICES the ids are 0 to count - 1. With it, the ids are its entries
    in order (numbers or GPU-... UUIDs), up to the first negative one such as -1. Torch's own
    parser of the variable stops there too (pytorch/pytorch pull request 84879).
    """
    environ = os.environ if environ is None else environ
    value = environ.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return [str(index) for index in range(count)]
    ids: list[str] = []
    for entry in (part.strip() for part in value.split(",")):
        if not entry or entry.startswith("-"):
            break
        ids.append(entry)
    return ids[:count]


def spread_gpus(device: str, count_gpus: Callable[[], int] | None = None,
                environ: Mapping[str, str] | None = None) -> list[str]:
    """Return the GPUs to spread trials over for `trial.device`; empty when trials are not spread."""
    if device not in ("auto", "cuda"):
        return []
    if count_gpus is None:
        import torch

        count_gpus = torch.cuda.device_count
    return visible_gpus(count_gpus(), environ)


class GpuSlots:
    """Running trials per GPU; `acquire` hands out the least-loaded GPU. Safe across threads."""

    def __init__(self, gpus: list[str]) -> None:
        self._running = dict.fromkeys(gpus, 0)
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._running)

    def acquire(self) -> str | None:
        """Return the GPU with the fewest running trials (the first listed on a tie), or None without GPUs."""
        with self._lock:
            if not self._running:
                return None
            gpu = min(self._running, key=self._running.__getitem__)
            self._running[gpu] += 1
            return gpu

    def release(self, gpu: str | None) -> None:
        """Return a GPU that `acquire` handed out; None is ignored."""
        if gpu is None:
            return
        with self._lock:
            if self._running.get(gpu, 0) <= 0:
                raise ValueError(f"GPU {gpu!r} released more often than acquired")
            self._running[gpu] -= 1

    def running(self) -> dict[str, int]:
        """Return a copy of the running trials per GPU."""
        with self._lock:
            return dict(self._running)
