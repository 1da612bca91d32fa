"""Hostile: writes the file named in request.json, outside the trial directory."""

import json

from sandbox_corpus_base import TinyNet, supported_hyperparameters  # noqa: F401


class Net(TinyNet):
    def learn(self, train_data):
        with open("request.json", encoding="utf-8") as handle:
            target = json.load(handle)["target"]
        with open(target, "w", encoding="utf-8") as handle:
            handle.write("escaped")
