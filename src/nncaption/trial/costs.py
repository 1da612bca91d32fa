"""Cost figures of a trial, measured inside the trial process: FLOPs and peak memory."""

from __future__ import annotations

import logging
import resource
import sys
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from nncaption.trial.decode import teacher_forcing_logits

log = logging.getLogger(__name__)


def flops_per_image(model: torch.nn.Module, images: torch.Tensor, captions: torch.Tensor) -> float | None:
    """FLOPs of one teacher-forcing forward in eval mode, divided by the batch size.

    Counts what torch's FlopCounterMode counts (matrix products and convolutions, two
    FLOPs per multiply-add); element-wise operations are left out. Returns None when the
    counter fails on the model.
    """
    was_training = model.training
    model.eval()
    try:
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            teacher_forcing_logits(model, images, captions)
        return counter.get_total_flops() / images.size(0)
    except Exception as exc:  # noqa: BLE001  (candidate code: any failure only loses the figure)
        log.warning("FLOP count failed: %s: %s", type(exc).__name__, exc)
        return None
    finally:
        model.train(was_training)


def peak_memory(device: torch.device) -> dict[str, Any]:
    """Peak resident set size of this process and, on a GPU, peak CUDA memory allocated, in bytes."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_bytes = rss if sys.platform == "darwin" else rss * 1024  # Linux reports KiB, macOS bytes
    cuda_bytes = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    return {"peak_rss_bytes": int(rss_bytes), "cuda_peak_bytes": cuda_bytes}
