"""Hostile: forward never returns."""

from sandbox_corpus_base import TinyNet, supported_hyperparameters  # noqa: F401


class Net(TinyNet):
    def forward(self, images, captions=None, hidden_state=None):
        while True:
            pass
