"""The child's resume state in-process: what it finds on a Net, what it restores, what it rejects."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.nn as nn

from nncaption.trial import resume_state
from nncaption.trial.resume_state import ResumeError


class Stateful(nn.Module):
    """A Net-like module with the state a resume must carry: optimizers, a scheduler, a counter, dropout."""

    def __init__(self, width: int = 6) -> None:
        super().__init__()
        self.layer = nn.Linear(4, width)
        self.dropout = nn.Dropout(0.3)
        self.criterion = nn.MSELoss()

    def train_setup(self) -> None:
        self.optimizer = torch.optim.Adam(self.parameters(), lr=0.05)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=1, gamma=0.5)
        self.extra = [torch.optim.SGD(self.parameters(), lr=0.01)]
        self.steps = 0

    def step(self) -> float:
        """One training step whose result depends on every kind of saved state."""
        self.steps += 1
        inputs = torch.randn(8, 4) * float(np.random.uniform(0.5, 1.5)) * (1.0 + random.random())
        loss = self.criterion(self.dropout(self.layer(inputs)), torch.zeros(8, self.layer.out_features)) * self.steps
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        return loss.item()


def _built(seed: int, width: int = 6) -> Stateful:
    torch.manual_seed(seed)
    model = Stateful(width)
    model.train_setup()
    return model


def test_holders_found_on_attributes_and_lists():
    model = _built(0)
    assert sorted(resume_state.state_holders(model)) == ["extra.0", "optimizer", "scheduler"]


def test_resumed_steps_match_uninterrupted(tmp_path):
    path = tmp_path / "resume.pt"
    first = _built(0)
    for _ in range(3):
        first.step()
    resume_state.save(path, first, epoch=3, record={"type": "epoch", "epoch": 3, "hypotheses": {"1": "a cat"}})
    expected = [first.step() for _ in range(3)]

    second = _built(99)
    state = resume_state.read(path, torch.device("cpu"))
    resume_state.load_into(state, second)
    resumed = [second.step() for _ in range(3)]

    assert resumed == expected
    assert torch.equal(second.layer.weight, first.layer.weight)
    assert second.steps == first.steps
    assert state["epoch"] == 3
    assert state["record"]["hypotheses"] == {"1": "a cat"}


def test_random_states_survive_weights_only_load(tmp_path):
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    random.gauss(0, 1)  # leaves a cached Gaussian in Python's generator
    torch.save(resume_state.capture_rng(), tmp_path / "rng.pt")
    expected = (random.gauss(0, 1), np.random.normal(size=3).tolist(), torch.rand(3).tolist())

    random.seed(2)
    np.random.seed(2)
    torch.manual_seed(2)
    resume_state.restore_rng(torch.load(tmp_path / "rng.pt", weights_only=True))

    assert (random.gauss(0, 1), np.random.normal(size=3).tolist(), torch.rand(3).tolist()) == expected


def test_missing_state_rejected(tmp_path):
    with pytest.raises(ResumeError, match="no resume state"):
        resume_state.read(tmp_path / "resume.pt", torch.device("cpu"))


def test_truncated_state_rejected(tmp_path):
    path = tmp_path / "resume.pt"
    resume_state.save(path, _built(0), epoch=1, record={})
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ResumeError, match="cannot read the resume state"):
        resume_state.read(path, torch.device("cpu"))


def test_leftover_temporary_file_ignored(tmp_path):
    path = tmp_path / "resume.pt"
    resume_state.save(path, _built(0), epoch=1, record={})
    path.with_name("resume.pt.tmp").write_bytes(b"half a file")
    assert resume_state.read(path, torch.device("cpu"))["epoch"] == 1


def test_state_of_other_shape_rejected(tmp_path):
    path = tmp_path / "resume.pt"
    resume_state.save(path, _built(0), epoch=1, record={})
    other = _built(0, width=5)
    before = other.layer.weight.clone()
    with pytest.raises(ResumeError, match="does not match the rebuilt Net"):
        resume_state.load_into(resume_state.read(path, torch.device("cpu")), other)
    assert torch.equal(other.layer.weight, before)


def test_state_with_other_holders_rejected(tmp_path):
    path = tmp_path / "resume.pt"
    resume_state.save(path, _built(0), epoch=1, record={})
    other = _built(0)
    del other.scheduler
    with pytest.raises(ResumeError, match="state holders"):
        resume_state.load_into(resume_state.read(path, torch.device("cpu")), other)
