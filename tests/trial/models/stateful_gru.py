"""The tiny GRU captioner with state a resumed trial must restore.

Training draws from the Python, NumPy and torch random generators (flips, brightness,
dropout), steps an LR scheduler per epoch and counts epochs in a plain attribute.
"""

import random

import numpy as np
import torch
import torch.nn as nn

PAD_ID = 0
SOS_ID = 1
EOS_ID = 2
MAX_DECODE_LEN = 12
HIDDEN = 32


def supported_hyperparameters():
    return {"lr"}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        vocab_size = out_shape[0]
        self.encoder = nn.Sequential(nn.Conv2d(in_shape[1], 8, 4, 4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.init_hidden = nn.Linear(8, HIDDEN)
        self.embed = nn.Embedding(vocab_size, HIDDEN, padding_idx=PAD_ID)
        self.dropout = nn.Dropout(0.2)
        self.gru = nn.GRU(HIDDEN, HIDDEN, batch_first=True)
        self.out = nn.Linear(HIDDEN, vocab_size)
        self.to(device)

    def start(self, images):
        """Initial hidden state [1, B, H] from the images."""
        return torch.tanh(self.init_hidden(self.encoder(images.to(self.device)))).unsqueeze(0)

    def step(self, tokens, hidden):
        """Logits [B, T, V] for tokens [B, T] continuing from `hidden`, and the new hidden state."""
        outputs, hidden = self.gru(self.dropout(self.embed(tokens)), hidden)
        return self.out(outputs), hidden

    def forward(self, images, captions=None, hidden_state=None):
        hidden = self.start(images)
        if captions is None:
            return self.decode_incrementally(hidden)
        if captions.dim() == 3:
            captions = captions[:, 0]
        logits, _ = self.step(captions[:, :-1].to(self.device), hidden)
        return logits

    @torch.no_grad()
    def decode_incrementally(self, hidden):
        """Greedy ids [B, L], one token per GRU step with the hidden state carried over."""
        token = torch.full((hidden.size(1), 1), SOS_ID, dtype=torch.long, device=hidden.device)
        finished = torch.zeros(hidden.size(1), dtype=torch.bool, device=hidden.device)
        produced = []
        for _ in range(MAX_DECODE_LEN):
            logits, hidden = self.step(token, hidden)
            token = logits[:, -1].argmax(dim=-1, keepdim=True).masked_fill(finished.unsqueeze(1), PAD_ID)
            produced.append(token)
            finished |= token.squeeze(1) == EOS_ID
            if bool(finished.all()):
                break
        return torch.cat(produced, dim=1)

    def train_setup(self, prm):
        self.criterion = nn.CrossEntropyLoss(ignore_index=PAD_ID)
        self.optimizer = torch.optim.Adam(self.parameters(), lr=prm["lr"])
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=1, gamma=0.7)
        self.epochs_done = 0

    def learn(self, train_data):
        self.train()
        self.epochs_done += 1
        total, batches = 0.0, 0
        for images, captions in train_data:
            if random.random() < 0.5:
                images = images.flip(-1)
            images = images * float(np.random.uniform(0.8, 1.2))
            captions = captions[:, 0].to(self.device) if captions.dim() == 3 else captions.to(self.device)
            logits = self(images, captions)
            loss = self.criterion(logits.reshape(-1, logits.size(-1)), captions[:, 1:].reshape(-1)) * (1.0 + 0.1 * self.epochs_done)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            total, batches = total + loss.item(), batches + 1
        self.scheduler.step()
        return total / max(1, batches)
