"""Every built-in captioner: Net API shapes, causality, decoding and one training epoch."""

from __future__ import annotations

import ast

import pytest
import torch

from nncaption.contract import EOS_ID, PAD_ID, SOS_ID
from nncaption.zoo import list_entries, load_module

CAPTIONERS = list_entries("captioner", probe=False)
VOCAB = 40
CPU = torch.device("cpu")


@pytest.fixture(scope="module", params=CAPTIONERS, ids=[e.name for e in CAPTIONERS])
def module(request):
    return load_module(request.param.path)


def build(module, batch=4, size=32):
    torch.manual_seed(0)
    prm = {"lr": 2e-3}
    net = module.Net((batch, 3, size, size), (VOCAB,), prm, CPU)
    net.train_setup(prm)
    return net


def random_captions(batch, length, refs=None):
    """Captions <SOS> w… <EOS> <PAD>… with ids in [4, VOCAB)."""
    shape = (batch, length) if refs is None else (batch, refs, length)
    captions = torch.randint(4, VOCAB, shape)
    captions[..., 0] = SOS_ID
    captions[..., length - 3] = EOS_ID
    captions[..., length - 2 :] = PAD_ID
    return captions


def test_registry_lists_three_captioners():
    assert {e.name for e in CAPTIONERS} >= {"cnn_lstm_attention", "cnn_transformer", "cnn_gru"}


@pytest.mark.parametrize("entry", CAPTIONERS, ids=[e.name for e in CAPTIONERS])
def test_imports_only_torch_and_math(entry):
    for node in ast.walk(ast.parse(entry.source())):
        if isinstance(node, ast.Import):
            assert {a.name for a in node.names} <= {"math", "torch", "torch.nn", "torch.nn.functional"}
        if isinstance(node, ast.ImportFrom):
            assert node.module in {"math", "torch", "typing"}


def test_declares_lr(module):
    assert "lr" in module.supported_hyperparameters()


@pytest.mark.parametrize("size", [32, 64])
def test_teacher_forcing_shape(module, size):
    net = build(module, size=size).eval()
    images = torch.randn(2, 3, size, size)
    logits = net(images, random_captions(2, 9))
    assert logits.shape == (2, 8, VOCAB)
    assert torch.isfinite(logits).all()


def test_uses_first_reference(module):
    net = build(module).eval()
    images = torch.randn(2, 3, 32, 32)
    captions = random_captions(2, 9, refs=3)
    with torch.no_grad():
        from_refs = net(images, captions)
        from_first = net(images, captions[:, 0])
    assert from_refs.shape == (2, 8, VOCAB)
    assert torch.allclose(from_refs, from_first)


def test_logits_are_causal(module):
    net = build(module).eval()
    images = torch.randn(2, 3, 32, 32)
    captions = random_captions(2, 10)
    changed = captions.clone()
    changed[:, 6:] = torch.randint(4, VOCAB, (2, 4))
    with torch.no_grad():
        original = net(images, captions)
        perturbed = net(images, changed)
    # Logits at positions 0..5 read inputs 0..5, which are unchanged.
    assert torch.allclose(original[:, :6], perturbed[:, :6], atol=1e-5)
    assert not torch.allclose(original[:, 6:], perturbed[:, 6:])


def test_greedy_decode_returns_ids(module):
    net = build(module).eval()
    ids = net(torch.randn(3, 3, 32, 32))
    assert ids.dtype == torch.long
    assert ids.dim() == 2
    assert ids.shape[0] == 3
    assert 1 <= ids.shape[1] <= module.MAX_DECODE_LEN
    assert int(ids.min()) >= 0
    assert int(ids.max()) < VOCAB


def test_learn_epoch_changes_parameters(module):
    net = build(module)
    batches = [(torch.randn(4, 3, 32, 32), random_captions(4, 8, refs=2)) for _ in range(2)]
    before = [p.detach().clone() for p in net.parameters()]

    net.learn(batches)

    changed = sum(not torch.equal(b, p) for b, p in zip(before, net.parameters(), strict=True))
    assert changed > len(before) // 2


@pytest.mark.slow
def test_learns_colour_to_word(module):
    """Ten images per colour, each captioned with its colour word: loss must fall below chance."""
    torch.manual_seed(0)
    colours = torch.tensor([[1.0, -1, -1], [-1, 1, -1], [-1, -1, 1], [1, 1, -1]])
    images = colours[:, :, None, None].expand(-1, -1, 32, 32).repeat(10, 1, 1, 1)
    images = images + 0.3 * torch.randn_like(images)
    words = torch.arange(4).repeat(10) + 10
    captions = torch.stack([torch.full_like(words, SOS_ID), words, torch.full_like(words, EOS_ID)], dim=1)
    batches = [(images[i : i + 8], captions[i : i + 8]) for i in range(0, 40, 8)]
    net = build(module)

    for _ in range(8):
        net.learn(batches)

    net.eval()
    decoded = net(images[:8])
    assert decoded[:, 0].tolist() == words[:8].tolist()
