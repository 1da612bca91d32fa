"""Helper classes, a local base class, prm kept on self and read with defaults."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn


def supported_hyperparameters():
    return frozenset(['lr', 'momentum', 'dropout'])


class Encoder(nn.Module):
    def __init__(self, channels: int, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images).flatten(1)  # [B, width]


class Decoder(nn.Module):
    def __init__(self, vocab_size: int, width: int, dropout: float) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, width, padding_idx=0)
        self.drop = nn.Dropout(dropout)
        self.rnn = nn.LSTM(width, width, num_layers=2, batch_first=True)
        self.out = nn.Linear(width, vocab_size)

    def forward(self, feature, tokens, state=None):
        inputs = self.drop(self.embed(tokens)) + feature.unsqueeze(1)
        output, state = self.rnn(inputs, state)
        return self.out(output), state


class CaptionBase(nn.Module):
    def train_setup(self, prm):
        self.criterion = nn.CrossEntropyLoss(ignore_index=0)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=self.prm['lr'], momentum=self.prm.get('momentum', 0.9))

    def learn(self, train_data):
        self.train()
        for images, captions in train_data:
            captions = captions.to(self.device)
            tokens = captions[:, 0, :] if captions.dim() == 3 else captions
            logits, _ = self(images.to(self.device), tokens)
            loss = self.criterion(logits.reshape(-1, logits.size(-1)), tokens[:, 1:].reshape(-1))
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()


class Net(CaptionBase):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.prm = prm
        self.device = device
        self.encoder = Encoder(in_shape[1], 32)
        self.decoder = Decoder(out_shape[0], 32, prm.get('dropout', 0.1))
        self.to(device)

    def forward(self, images, captions: Optional[torch.Tensor] = None, hidden_state=None):
        feature = self.encoder(images)
        if captions is not None:
            tokens = captions[:, 0, :] if captions.dim() == 3 else captions
            return self.decoder(feature, tokens[:, :-1], hidden_state)
        token = torch.ones(images.size(0), 1, dtype=torch.long, device=images.device)
        state, ids = hidden_state, []
        for _ in range(12):
            logits, state = self.decoder(feature, token, state)
            token = logits.argmax(-1)
            ids.append(token)
        return torch.cat(ids, 1), state
