"""Behavioural checks on small fixture models, each broken in one way."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from corpus_util import VALID
from torch import nn

from nncaption.status import Status
from nncaption.trial import behaviour
from nncaption.trial.behaviour import (
    CHECK_NAMES,
    failure_status,
    first_failure,
    run_behaviour_checks,
)
from nncaption.trial.check_child import synthetic_batch
from nncaption.trial.modload import load_candidate

VOCAB = 30
PRM = {"lr": 0.05, "momentum": 0.9, "dropout": 0.1, "weight_decay": 0.0}


def _batch(references: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    return synthetic_batch(4, 16, VOCAB, references, 10, seed=1)


class CausalTransformer(nn.Module):
    """A small Transformer decoder; `causal=False` drops the mask."""

    causal = True

    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.vocab_size = out_shape[0]
        self.patches = nn.Conv2d(in_shape[1], 16, 4, stride=4)
        self.embed = nn.Embedding(self.vocab_size, 16)
        layer = nn.TransformerDecoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
        self.decoder = nn.TransformerDecoder(layer, 1)
        self.head = nn.Linear(16, self.vocab_size)

    def train_setup(self, prm):
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm["lr"])

    def learn(self, train_data):
        for images, captions in train_data:
            tokens = captions[:, 0] if captions.dim() == 3 else captions
            logits = self.logits_for(images, tokens)
            loss = nn.functional.cross_entropy(logits.reshape(-1, self.vocab_size), tokens[:, 1:].reshape(-1))
            self.optimizer.zero_grad()
            loss.backward()
            self.step()

    def step(self):
        self.optimizer.step()

    def logits_for(self, images, tokens):
        return self(images, tokens)

    def forward(self, images, captions=None, hidden_state=None):
        memory = self.patches(images).flatten(2).transpose(1, 2)
        if captions is None:
            return torch.ones(images.size(0), 5, dtype=torch.long)
        tokens = (captions[:, 0] if captions.dim() == 3 else captions)[:, :-1]
        mask = nn.Transformer.generate_square_subsequent_mask(tokens.size(1)) if self.causal else None
        return self.head(self.decoder(self.embed(tokens), memory, tgt_mask=mask))


class NoMask(CausalTransformer):
    causal = False


class PeeksAtTarget(CausalTransformer):
    def forward(self, images, captions=None, hidden_state=None):
        if captions is None:
            return super().forward(images)
        tokens = captions[:, 0] if captions.dim() == 3 else captions
        shifted = torch.cat([tokens[:, 1:], tokens[:, :1]], dim=1)  # position t sees token t+1
        return super().forward(images, shifted)


class InferenceRaises(CausalTransformer):
    def forward(self, images, captions=None, hidden_state=None):
        if captions is None:
            raise NotImplementedError("no decoding without captions")
        return super().forward(images, captions)


class NeverSteps(CausalTransformer):
    def step(self):
        pass  # the optimizer never steps


class NanLogits(CausalTransformer):
    def forward(self, images, captions=None, hidden_state=None):
        logits = super().forward(images, captions)
        return logits * float("nan") if captions is not None else logits


class WrongVocab(CausalTransformer):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__(in_shape, (1000,), prm, device)


class BuildRaises(CausalTransformer):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__(in_shape, out_shape, prm, device)
        raise ValueError(f"cannot handle in_shape {in_shape}")


class NoOptimizer(CausalTransformer):
    def train_setup(self, prm):
        self.lr = prm["lr"]


class DetachedLogits(CausalTransformer):
    def forward(self, images, captions=None, hidden_state=None):
        logits = super().forward(images, captions)
        return logits.detach().requires_grad_() if captions is not None else logits


class TupleOutput(CausalTransformer):
    def forward(self, images, captions=None, hidden_state=None):
        return super().forward(images, captions), None

    def logits_for(self, images, tokens):
        return self(images, tokens)[0]


def _run(model_class, captions_refs: int = 5, budget: int = 10**6, **kwargs):
    images, captions = _batch(captions_refs)
    in_shape = tuple(images.shape)
    return run_behaviour_checks(lambda: model_class(in_shape, (VOCAB,), PRM, torch.device("cpu")),
                                images, captions, VOCAB, PRM, budget, **kwargs)


def _by_name(results):
    return {result.name: result for result in results}


def test_causal_model_passes_every_check():
    results = _run(CausalTransformer, epoch_batches=10, epoch_time_limit_s=60.0)
    assert [r.name for r in results] == list(CHECK_NAMES)
    assert all(r.passed for r in results), [r for r in results if not r.passed]


def test_transformer_without_mask_fails_causality():
    failure = first_failure(_run(NoMask))
    assert failure is not None
    assert failure.name == "causality"
    assert "future tokens" in failure.message


def test_model_seeing_next_token_fails_causality():
    failure = first_failure(_run(PeeksAtTarget))
    assert failure is not None
    assert failure.name == "causality"


def test_inference_raising_is_warning():
    results = _by_name(_run(InferenceRaises))
    assert results["inference"].passed is False
    assert results["inference"].severity == "warning"
    assert "NotImplementedError" in results["inference"].message
    assert results["learn_steps"].passed is True


def test_inference_failure_is_not_first_failure():
    assert first_failure(_run(InferenceRaises)) is None


def test_learn_without_step_fails():
    failure = first_failure(_run(NeverSteps))
    assert failure is not None
    assert failure.name == "learn_steps"
    assert "optimizer.step()" in failure.message


def test_nan_logits_fail():
    failure = first_failure(_run(NanLogits))
    assert failure is not None
    assert failure.name == "finite_logits"


def test_wrong_vocab_size_fails_shape():
    failure = first_failure(_run(WrongVocab))
    assert failure is not None
    assert failure.name == "teacher_forcing_shape"
    assert "1000" in failure.message


def test_build_error_stops_checks():
    results = _run(BuildRaises)
    assert [r.name for r in results] == ["build"]
    assert failure_status(results[0]) == Status.BUILD_ERROR


def test_over_budget_fails():
    failure = first_failure(_run(CausalTransformer, budget=100))
    assert failure is not None
    assert failure.name == "param_budget"
    assert failure.data["parameters"] > 100
    assert failure_status(failure) == Status.SMOKE_FAILED


def test_train_setup_without_optimizer_fails():
    failure = first_failure(_run(NoOptimizer))
    assert failure is not None
    assert failure.name == "train_setup"


def test_detached_logits_fail_backward():
    failure = first_failure(_run(DetachedLogits))
    assert failure is not None
    assert failure.name == "backward"


def test_tuple_output_accepted():
    assert first_failure(_run(TupleOutput)) is None


def test_two_dim_captions_accepted():
    images, captions = _batch()
    flat = captions[:, 0]
    results = run_behaviour_checks(lambda: CausalTransformer(tuple(images.shape), (VOCAB,), PRM, "cpu"),
                                   images, flat, VOCAB, PRM, 10**6)
    assert first_failure(results) is None


def test_epoch_time_over_limit_fails():
    failure = first_failure(_run(CausalTransformer, epoch_batches=10**9, epoch_time_limit_s=1.0))
    assert failure is not None
    assert failure.name == "epoch_time"
    assert failure.data["projected_epoch_seconds"] > 1.0


def test_results_stream_to_callback():
    seen = []
    results = _run(CausalTransformer, on_result=seen.append)
    assert [r.name for r in seen] == [r.name for r in results]


def test_synthetic_batch_layout():
    images, captions = synthetic_batch(3, 16, VOCAB, 5, 12, seed=0)
    assert images.shape == (3, 3, 16, 16)
    assert captions.shape == (3, 5, 12)
    assert bool((captions[..., 0] == 1).all())
    assert bool(((captions == 2).sum(-1) == 1).all())
    assert int(captions.max()) < VOCAB


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_corpus_passes_behaviour(path: Path):
    module = load_candidate(path, f"corpus_{path.stem}")
    references = 0 if path.stem.startswith("bt_") else 5
    images, captions = _batch(max(references, 1))
    if references == 0:
        captions = captions[:, 0]  # this model reads [B, T] captions only
    prm = {key: PRM[key] for key in module.supported_hyperparameters()}
    results = run_behaviour_checks(lambda: module.Net(tuple(images.shape), (VOCAB,), prm, torch.device("cpu")),
                                   images, captions, VOCAB, prm, 10**6)
    assert [r for r in results if not r.passed] == []


class EndlessDecoding(CausalTransformer):
    def forward(self, images, captions=None, hidden_state=None):
        if captions is None:
            while True:  # waits for an <EOS> that never comes
                images = images + 0
        return super().forward(images, captions)


def test_endless_inference_times_out(monkeypatch):
    monkeypatch.setattr(behaviour, "INFERENCE_TIME_LIMIT_S", 0.5)
    results = _by_name(_run(EndlessDecoding))
    assert results["inference"].passed is False
    assert "did not finish" in results["inference"].message
    assert results["learn_steps"].passed is True
