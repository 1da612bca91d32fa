"""Broken: the loss turns NaN, so training drives every parameter to NaN."""

import torch
from sandbox_corpus_base import TinyNet, supported_hyperparameters  # noqa: F401


class Net(TinyNet):
    def learn(self, train_data):
        for images, captions in train_data:
            logits = self(images, captions)
            loss = self.criterion(logits.reshape(-1, logits.shape[-1]), captions[:, 1:].reshape(-1))
            self.step(loss * torch.tensor(float("nan")))
