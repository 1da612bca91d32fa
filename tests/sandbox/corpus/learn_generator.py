"""Broken: learn is a generator, so calling it trains nothing."""

from sandbox_corpus_base import TinyNet, supported_hyperparameters  # noqa: F401


class Net(TinyNet):
    def learn(self, train_data):
        for images, captions in train_data:
            yield self(images, captions)
