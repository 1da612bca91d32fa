"""Hostile: prints the environment and saves it in the trial directory, hoping for API keys."""

import os

from sandbox_corpus_base import TinyNet, supported_hyperparameters  # noqa: F401


class Net(TinyNet):
    def learn(self, train_data):
        print(dict(os.environ))
        with open("environment.txt", "w", encoding="utf-8") as handle:
            handle.write(repr(dict(os.environ)))
        super().learn(train_data)
