"""Hostile: torch's C++ writer, reached through getattr, saves outside the trial directory.

First it saves a checkpoint inside the trial directory, as trial code does; that must work.
"""

import json

import torch
from sandbox_corpus_base import TinyNet, supported_hyperparameters  # noqa: F401


class Net(TinyNet):
    def learn(self, train_data):
        torch.save(self.state_dict(), "inside_was_saved.pt")
        with open("request.json", encoding="utf-8") as handle:
            target = json.load(handle)["target"]
        getattr(torch, "save")({}, target)  # noqa: B009  (the getattr form is the point)
