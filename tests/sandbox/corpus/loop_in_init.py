"""Hostile: the constructor never returns."""

from sandbox_corpus_base import TinyNet, supported_hyperparameters  # noqa: F401


class Net(TinyNet):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__(in_shape, out_shape, prm, device)
        while True:
            pass
