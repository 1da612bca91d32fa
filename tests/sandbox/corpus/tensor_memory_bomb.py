"""Hostile: requests one torch tensor far larger than the memory limit."""

import torch
from sandbox_corpus_base import TinyNet, supported_hyperparameters  # noqa: F401


class Net(TinyNet):
    def learn(self, train_data):
        self.buffer = torch.empty(64 * 1024**3, dtype=torch.uint8)
