"""Broken: reads address 8 through ctypes (a real segmentation fault when the guard is off)."""

import ctypes

from sandbox_corpus_base import TinyNet, supported_hyperparameters  # noqa: F401


class Net(TinyNet):
    def learn(self, train_data):
        ctypes.string_at(8, 16)  # address 0 would return an uninitialised buffer instead
