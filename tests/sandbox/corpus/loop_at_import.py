"""Hostile: never finishes importing."""

from sandbox_corpus_base import TinyNet, supported_hyperparameters  # noqa: F401

while True:
    pass


class Net(TinyNet):
    pass
