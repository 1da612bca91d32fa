"""Stand-in trial entry for the sandbox tests: the Net API steps, cut down to what the corpus needs.

It loads the candidate file named in the request, then runs the phases that real trial code
announces (build, behaviour, train, evaluate) and sends a final `result` record.
"""

from __future__ import annotations

import inspect
import traceback
from typing import Any

import torch

from nncaption.trial.modload import load_candidate

VOCAB_SIZE = 12
IN_SHAPE = (2, 3, 8, 8)


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.rand(IN_SHAPE)
    captions = torch.randint(4, VOCAB_SIZE, (IN_SHAPE[0], 6))
    captions[:, 0] = 1  # <SOS>
    return images, captions


def _error(channel: Any, exc: BaseException, phase: str, status: str) -> None:
    channel.send(
        {
            "type": "error",
            "error": type(exc).__name__,
            "message": str(exc),
            "traceback": "".join(traceback.format_exception(exc)),
            "phase": phase,
            "status": status,
        }
    )


def main(request: dict[str, Any], channel: Any) -> None:
    def phase(name: str) -> None:
        channel.send({"type": "phase", "name": name})

    phase("build")
    torch.manual_seed(0)
    try:
        module = load_candidate(request["candidate"])
        net = module.Net(IN_SHAPE, (VOCAB_SIZE,), {"lr": 0.01}, torch.device("cpu"))
    except Exception as exc:
        _error(channel, exc, "build", "build_error")
        return

    phase("behaviour")
    images, captions = _batch()
    logits = net(images, captions)
    if logits.shape != (IN_SHAPE[0], captions.shape[1] - 1, VOCAB_SIZE):
        _error(channel, ValueError(f"logits shape {tuple(logits.shape)}"), "behaviour", "smoke_failed")
        return

    phase("train")
    net.train_setup({"lr": 0.01})
    try:
        returned = net.learn([_batch() for _ in range(3)])
        if inspect.isgenerator(returned):
            raise TypeError("learn() returned a generator; it must train for one epoch and return None")
    except Exception as exc:
        _error(channel, exc, "train", "train_error")
        return
    if not all(torch.isfinite(p).all() for p in net.parameters()):
        _error(channel, FloatingPointError("non-finite parameters after epoch 1"), "train", "diverged")
        return

    phase("evaluate")
    with torch.no_grad():
        hypotheses = net(images, captions).argmax(-1).tolist()
    channel.send({"type": "result", "hypotheses": hypotheses})
