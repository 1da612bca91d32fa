"""Harness decoding through the teacher-forcing forward."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from nncaption.contract import EOS_ID, PAD_ID, SOS_ID
from nncaption.trial.decode import (
    NonFiniteLogits,
    beam_decode,
    greedy_decode,
    harness_decode,
    own_inference_tokens,
    teacher_forcing_logits,
)

from .helpers import MODELS

VOCAB = 12


def _tiny_gru(seed: int) -> torch.nn.Module:
    spec = importlib.util.spec_from_file_location("tiny_gru_for_decode", MODELS / "tiny_gru.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(seed)
    model = module.Net((4, 3, 16, 16), (VOCAB,), {"lr": 1e-3}, torch.device("cpu"))
    with torch.no_grad():  # larger output weights make <EOS> likely and near-ties rare
        model.out.weight.mul_(8.0)
    return model.eval()


def _images(seed: int, batch: int = 6) -> torch.Tensor:
    return torch.randn(batch, 3, 16, 16, generator=torch.Generator().manual_seed(seed))


def _sequence_log_prob(model: torch.nn.Module, images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Summed log-probability of each decoded caption, its <EOS> included."""
    scores = []
    for row, image in zip(tokens.tolist(), images, strict=True):
        words = [t for t in row if t != PAD_ID]
        sequence = torch.tensor([[SOS_ID, *words, EOS_ID]])
        logits = teacher_forcing_logits(model, image.unsqueeze(0), torch.cat([sequence, sequence[:, :1]], dim=1))
        log_probs = torch.log_softmax(logits[0, : sequence.size(1) - 1], dim=-1)
        scores.append(log_probs.gather(1, sequence[0, 1:].unsqueeze(1)).sum())
    return torch.stack(scores)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_greedy_matches_incremental_decoding(seed):
    model = _tiny_gru(seed)
    images = _images(seed)
    harness = greedy_decode(model, images, max_len=12)
    incremental = model.decode_incrementally(model.start(images))
    incremental = torch.where(incremental == EOS_ID, torch.full_like(incremental, PAD_ID), incremental)
    width = max(harness.size(1), incremental.size(1))
    pad = lambda t: torch.nn.functional.pad(t, (0, width - t.size(1)), value=PAD_ID)  # noqa: E731
    assert torch.equal(pad(harness), pad(incremental))
    assert bool((harness != PAD_ID).any())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_width_one_equals_greedy(seed):
    model = _tiny_gru(seed)
    images = _images(seed)
    assert torch.equal(beam_decode(model, images, max_len=12, width=1), greedy_decode(model, images, max_len=12))


def test_beam_finds_no_worse_captions_than_greedy():
    model = _tiny_gru(3)
    with torch.no_grad():
        model.out.bias[EOS_ID] += 3.0  # most captions end within max_len, so their scores compare
    images = _images(3)
    greedy = greedy_decode(model, images, max_len=12)
    beam = beam_decode(model, images, max_len=12, width=4)
    greedy_ended = (greedy == PAD_ID).any(dim=1)  # the caption ended with <EOS> before max_len
    beam_ended = (beam == PAD_ID).any(dim=1)
    both = greedy_ended & beam_ended
    assert bool(both.any())
    beam_scores = _sequence_log_prob(model, images[both], beam[both])
    greedy_scores = _sequence_log_prob(model, images[both], greedy[both])
    assert bool((beam_scores >= greedy_scores - 1e-4).all())


def test_harness_decode_rejects_unknown_method():
    with pytest.raises(ValueError, match="unknown decoding method"):
        harness_decode(_tiny_gru(0), _images(0), 5, "sampling", 1)


def test_beam_rejects_zero_width():
    with pytest.raises(ValueError, match="at least 1"):
        beam_decode(_tiny_gru(0), _images(0), 5, 0)


def test_greedy_raises_on_nonfinite_logits():
    model = _tiny_gru(0)
    with torch.no_grad():
        model.out.bias.fill_(float("nan"))
    with pytest.raises(NonFiniteLogits):
        greedy_decode(model, _images(0), 5)


class _Fixed(torch.nn.Module):
    """forward(images) returns a fixed output, to test how own decoding is read."""

    def __init__(self, output):
        super().__init__()
        self.output = output

    def forward(self, images, captions=None, hidden_state=None):
        return self.output


def test_own_inference_reads_ids_scores_and_tuples():
    ids = torch.tensor([[5, 6, EOS_ID], [7, EOS_ID, PAD_ID]])
    scores = torch.nn.functional.one_hot(ids, 10).float()
    images = torch.zeros(2, 3, 8, 8)
    assert torch.equal(own_inference_tokens(_Fixed(ids), images), ids)
    assert torch.equal(own_inference_tokens(_Fixed(scores), images), ids)
    assert torch.equal(own_inference_tokens(_Fixed((ids, None)), images), ids)
    with_sos = torch.cat([torch.full((2, 1), SOS_ID), ids], dim=1)
    assert torch.equal(own_inference_tokens(_Fixed(with_sos), images), ids)


def test_own_inference_rejects_wrong_shape():
    with pytest.raises(ValueError, match="expected"):
        own_inference_tokens(_Fixed(torch.zeros(3, 4)), torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError, match="returned NoneType"):
        own_inference_tokens(_Fixed(None), torch.zeros(2, 3, 8, 8))
