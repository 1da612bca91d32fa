"""Hostile: ignores SIGTERM and loops, so only SIGKILL ends it."""

import signal

from sandbox_corpus_base import TinyNet, supported_hyperparameters  # noqa: F401


class Net(TinyNet):
    def learn(self, train_data):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            pass
