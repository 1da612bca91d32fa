"""Broken: learn raises an exception."""

from sandbox_corpus_base import TinyNet, supported_hyperparameters  # noqa: F401


class Net(TinyNet):
    def learn(self, train_data):
        raise RuntimeError("shape mismatch in the decoder: 17 != 16")
