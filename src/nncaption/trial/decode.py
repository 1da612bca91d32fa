"""Harness-owned decoding through the teacher-forcing `forward` alone.

Every candidate is decoded the same way: grow the prefix from <SOS> one token at a
time, calling `forward(images, prefix)` and taking the last position's logits. This
needs no extra API and is identical for every model, so it is the score of record.
"""

from __future__ import annotations

import torch

from nncaption.contract import EOS_ID, PAD_ID, SOS_ID


def teacher_forcing_logits(model: torch.nn.Module, images: torch.Tensor, captions: torch.Tensor) -> torch.Tensor:
    """Call forward with captions and return logits [B, T-1, V], unwrapping a (logits, hidden) tuple."""
    output = model(images, captions)
    if isinstance(output, (tuple, list)):
        output = output[0]
    return output


@torch.no_grad()
def greedy_decode(model: torch.nn.Module, images: torch.Tensor, max_len: int) -> torch.Tensor:
    """Token ids [B, L] (L <= max_len), <EOS> and what follows it replaced by <PAD>."""
    batch = images.size(0)
    prefix = torch.full((batch, 1), SOS_ID, dtype=torch.long)
    finished = torch.zeros(batch, dtype=torch.bool)
    for _ in range(max_len):
        # forward drops the last input position, so a dummy token is appended to the prefix
        padded = torch.cat([prefix, torch.full((batch, 1), PAD_ID, dtype=torch.long)], dim=1)
        logits = teacher_forcing_logits(model, images, padded)  # [B, t, V]
        next_token = logits[:, prefix.size(1) - 1].argmax(dim=-1).cpu()
        next_token = torch.where(finished, torch.full_like(next_token, PAD_ID), next_token)
        prefix = torch.cat([prefix, next_token.unsqueeze(1)], dim=1)
        finished |= next_token == EOS_ID
        if bool(finished.all()):
            break
    tokens = prefix[:, 1:]
    return torch.where(tokens == EOS_ID, torch.full_like(tokens, PAD_ID), tokens)
