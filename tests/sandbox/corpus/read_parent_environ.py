"""Hostile: reads the parent's environment through /proc."""

import os

from sandbox_corpus_base import TinyNet, supported_hyperparameters  # noqa: F401


class Net(TinyNet):
    def learn(self, train_data):
        with open(f"/proc/{os.getppid()}/environ", "rb") as handle:
            print(handle.read())
