"""Broken: waits for input on stdin."""

from sandbox_corpus_base import TinyNet, supported_hyperparameters  # noqa: F401


class Net(TinyNet):
    def learn(self, train_data):
        answer = input("learning rate? ")
        self.lr = float(answer)
