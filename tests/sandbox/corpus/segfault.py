"""Broken: the process dies from SIGSEGV in the middle of training."""

import os
import signal

from sandbox_corpus_base import TinyNet, supported_hyperparameters  # noqa: F401


class Net(TinyNet):
    def learn(self, train_data):
        os.kill(os.getpid(), signal.SIGSEGV)
