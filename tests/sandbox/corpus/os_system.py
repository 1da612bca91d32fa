"""Hostile: runs a shell command."""

import os

from sandbox_corpus_base import TinyNet, supported_hyperparameters  # noqa: F401


class Net(TinyNet):
    def learn(self, train_data):
        os.system("touch shell_was_here")
