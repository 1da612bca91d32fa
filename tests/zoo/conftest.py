"""Shared fixtures of the zoo tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="package")
def single_torch_thread():
    """Run the zoo's small models on one thread: faster than two busy-waiting ones on a shared CPU."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
