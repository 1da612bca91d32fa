"""Hostile: builds a DataLoader with worker processes."""

import torch
from sandbox_corpus_base import TinyNet, supported_hyperparameters  # noqa: F401
from torch.utils.data import DataLoader, TensorDataset


class Net(TinyNet):
    def learn(self, train_data):
        images, captions = next(iter(train_data))
        loader = DataLoader(TensorDataset(images, captions), batch_size=1, num_workers=2)
        for batch_images, batch_captions in loader:
            torch.nn.functional.cross_entropy(self(batch_images, batch_captions).flatten(0, 1), batch_captions[:, 1:].flatten())
