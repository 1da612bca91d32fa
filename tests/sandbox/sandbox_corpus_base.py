"""A tiny well-behaved captioner that the hostile corpus files subclass.

Each corpus file overrides one method with the misbehaviour it tests, so the rest of the
trial runs as it would for a real candidate.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def supported_hyperparameters() -> set[str]:
    return {"lr"}


class TinyNet(nn.Module):
    def __init__(self, in_shape: tuple, out_shape: tuple, prm: dict, device: torch.device) -> None:
        super().__init__()
        vocab_size = out_shape[0]
        self.encoder = nn.Linear(in_shape[1] * in_shape[2] * in_shape[3], 16)
        self.embed = nn.Embedding(vocab_size, 16)
        self.head = nn.Linear(16, vocab_size)
        self.device = device

    def train_setup(self, prm: dict) -> None:
        # A plain SGD step by hand: the first torch.optim optimizer imports torch._dynamo,
        # which adds one to two seconds to every test run.
        self.lr = prm["lr"]
        self.criterion = nn.CrossEntropyLoss(ignore_index=0)

    def step(self, loss: torch.Tensor) -> None:
        self.zero_grad()
        loss.backward()
        with torch.no_grad():
            for parameter in self.parameters():
                parameter -= self.lr * parameter.grad

    def learn(self, train_data: Any) -> None:
        for images, captions in train_data:
            logits = self(images, captions)  # [B, T-1, V]
            loss = self.criterion(logits.reshape(-1, logits.shape[-1]), captions[:, 1:].reshape(-1))
            self.step(loss)

    def forward(self, images: torch.Tensor, captions: torch.Tensor | None = None, hidden_state: Any = None) -> torch.Tensor:
        features = self.encoder(images.flatten(1))  # [B, 16]
        tokens = self.embed(captions[:, :-1])  # [B, T-1, 16]; position t depends on tokens up to t only
        return self.head(tokens + features[:, None, :])  # [B, T-1, V]
