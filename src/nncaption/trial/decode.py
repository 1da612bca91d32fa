"""Harness-owned decoding through the teacher-forcing `forward` alone.

Every candidate is decoded the same way: grow the prefix from <SOS> one token at a
time, calling `forward(images, prefix)` and reading the logits of the last prefix
position. This needs no extra API and is identical for every model, so it is the score
of record. Greedy decoding keeps the most likely token; beam search keeps the `width`
most likely prefixes by summed log-probability (no length penalty).

`own_inference_tokens` reads the model's own decoding (`forward(images)` without
captions), which the harness scores only as a secondary number.
"""

from __future__ import annotations

import torch

from nncaption.contract import EOS_ID, PAD_ID, SOS_ID

DECODING_METHODS = ("greedy", "beam")


class NonFiniteLogits(Exception):
    """The model returned NaN or infinite logits while being decoded."""


def teacher_forcing_logits(model: torch.nn.Module, images: torch.Tensor, captions: torch.Tensor) -> torch.Tensor:
    """Call forward with captions and return logits [B, T-1, V], unwrapping a (logits, hidden) tuple."""
    output = model(images, captions)
    if isinstance(output, (tuple, list)):
        output = output[0]
    return output


def _next_token_logits(model: torch.nn.Module, images: torch.Tensor, prefix: torch.Tensor) -> torch.Tensor:
    """Logits [B, V] of the token that follows each prefix [B, t]."""
    # forward drops the last input position, so a dummy token is appended to the prefix
    padded = torch.cat([prefix, torch.full_like(prefix[:, :1], PAD_ID)], dim=1)
    logits = teacher_forcing_logits(model, images, padded)  # [B, t, V]
    last = logits[:, prefix.size(1) - 1].float()
    if not torch.isfinite(last).all():
        raise NonFiniteLogits(f"forward returned non-finite logits at decoding step {prefix.size(1)}")
    return last


def _strip_eos(tokens: torch.Tensor) -> torch.Tensor:
    return torch.where(tokens == EOS_ID, torch.full_like(tokens, PAD_ID), tokens)


@torch.no_grad()
def greedy_decode(model: torch.nn.Module, images: torch.Tensor, max_len: int) -> torch.Tensor:
    """Token ids [B, L] (L <= max_len) on the CPU, <EOS> and what follows it replaced by <PAD>."""
    batch = images.size(0)
    prefix = torch.full((batch, 1), SOS_ID, dtype=torch.long, device=images.device)
    finished = torch.zeros(batch, dtype=torch.bool, device=images.device)
    for _ in range(max_len):
        next_token = _next_token_logits(model, images, prefix).argmax(dim=-1)  # [B]
        next_token = next_token.masked_fill(finished, PAD_ID)
        prefix = torch.cat([prefix, next_token.unsqueeze(1)], dim=1)
        finished |= next_token == EOS_ID
        if bool(finished.all()):
            break
    return _strip_eos(prefix[:, 1:]).cpu()


@torch.no_grad()
def beam_decode(model: torch.nn.Module, images: torch.Tensor, max_len: int, width: int) -> torch.Tensor:
    """Token ids [B, L] of each image's best beam, in greedy_decode's format; width 1 is greedy decoding."""
    if width < 1:
        raise ValueError(f"beam width must be at least 1, got {width}")
    batch, device = images.size(0), images.device
    beams = images.repeat_interleave(width, dim=0)  # [B·k, 3, H, W]
    prefix = torch.full((batch * width, 1), SOS_ID, dtype=torch.long, device=device)
    finished = torch.zeros(batch * width, dtype=torch.bool, device=device)

    # Only the first beam of each image is live at the start, so the k beams do not repeat it.
    scores = torch.full((batch, width), float("-inf"), device=device)
    scores[:, 0] = 0.0
    scores = scores.view(-1)  # [B·k]

    for _ in range(max_len):
        log_probs = torch.log_softmax(_next_token_logits(model, beams, prefix), dim=-1)  # [B·k, V]
        vocab = log_probs.size(1)

        # A finished beam continues with <PAD> only, at no cost, so its score stays fixed.
        pad_only = torch.full_like(log_probs, float("-inf"))
        pad_only[:, PAD_ID] = 0.0
        log_probs = torch.where(finished.unsqueeze(1), pad_only, log_probs)

        totals = (scores.unsqueeze(1) + log_probs).view(batch, width * vocab)  # [B, k·V]
        scores, flat = totals.topk(width, dim=1)  # sorted, best first
        source = (flat // vocab + torch.arange(batch, device=device).unsqueeze(1) * width).view(-1)  # [B·k]
        token = (flat % vocab).view(-1)
        scores = scores.view(-1)
        prefix = torch.cat([prefix[source], token.unsqueeze(1)], dim=1)
        finished = finished[source] | (token == EOS_ID)
        if bool(finished.all()):
            break
    best = prefix.view(batch, width, -1)[:, 0, 1:]  # [B, L]
    return _strip_eos(best).cpu()


@torch.no_grad()
def harness_decode(model: torch.nn.Module, images: torch.Tensor, max_len: int, method: str, width: int) -> torch.Tensor:
    """Decode with the configured method: `greedy`, or `beam` of `width`."""
    if method == "greedy":
        return greedy_decode(model, images, max_len)
    if method == "beam":
        return beam_decode(model, images, max_len, width)
    raise ValueError(f"unknown decoding method {method!r}; expected one of {', '.join(DECODING_METHODS)}")


@torch.no_grad()
def own_inference_tokens(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Token ids [B, L] on the CPU from the model's own `forward(images)`.

    Accepts ids [B, L], scores [B, L, V] (reduced by argmax) and a tuple whose first item
    is either; raises ValueError for any other output.
    """
    output = model(images)
    if isinstance(output, (tuple, list)):
        output = output[0]
    if not isinstance(output, torch.Tensor):
        raise ValueError(f"forward(images) returned {type(output).__name__}, expected token ids [B, L] or scores [B, L, V]")
    if output.dim() == 3:
        output = output.argmax(dim=-1)
    if output.dim() != 2 or output.size(0) != images.size(0):
        raise ValueError(f"forward(images) returned shape {tuple(output.shape)}, expected [{images.size(0)}, L] or [{images.size(0)}, L, V]")
    tokens = output.long().cpu()
    if tokens.size(1) > 0 and bool((tokens[:, 0] == SOS_ID).all()):
        tokens = tokens[:, 1:]  # some models return their <SOS> as well
    return tokens
