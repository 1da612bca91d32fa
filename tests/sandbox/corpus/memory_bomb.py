"""Hostile: allocates 256 MiB blocks until memory runs out."""

from sandbox_corpus_base import TinyNet, supported_hyperparameters  # noqa: F401


class Net(TinyNet):
    def learn(self, train_data):
        blocks = []
        while True:
            blocks.append(bytes(256 * 1024 * 1024))  # calloc: no page is touched
