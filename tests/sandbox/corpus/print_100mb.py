"""Hostile: prints 100 MB to stdout, then trains normally."""

import sys

from sandbox_corpus_base import TinyNet, supported_hyperparameters  # noqa: F401


class Net(TinyNet):
    def learn(self, train_data):
        line = "x" * 1023 + "\n"
        block = line * 1024  # 1 MiB
        for _ in range(100):
            sys.stdout.write(block)
        super().learn(train_data)
