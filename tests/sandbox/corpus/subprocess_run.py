"""Hostile: starts a program through subprocess."""

import subprocess

from sandbox_corpus_base import TinyNet, supported_hyperparameters  # noqa: F401


class Net(TinyNet):
    def learn(self, train_data):
        subprocess.run(["touch", "subprocess_was_here"], check=False)
