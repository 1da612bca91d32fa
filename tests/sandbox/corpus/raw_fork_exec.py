"""Hostile: calls subprocess's private fork_exec directly, which raises no audit event."""

import os
import subprocess

from sandbox_corpus_base import TinyNet, supported_hyperparameters  # noqa: F401


class Net(TinyNet):
    def learn(self, train_data):
        read_fd, write_fd = os.pipe()
        subprocess._fork_exec(
            [b"/bin/true"], [b"/bin/true"], True, (), None, None,
            -1, -1, -1, -1, -1, -1, read_fd, write_fd,
            False, False, -1, None, None, None, -1, None, False,
        )
