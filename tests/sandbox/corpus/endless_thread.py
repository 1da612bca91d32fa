"""Broken: starts a non-daemon thread that never ends, then trains normally."""

import threading
import time

from sandbox_corpus_base import TinyNet, supported_hyperparameters  # noqa: F401


def _spin() -> None:
    while True:
        time.sleep(0.05)


class Net(TinyNet):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__(in_shape, out_shape, prm, device)
        threading.Thread(target=_spin, daemon=False).start()
