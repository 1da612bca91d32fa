"""Sandbox entry that probes untrusted zoo files (user folders) and sends their measures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nncaption.zoo.probe import measure_in_child
from nncaption.zoo.registry import ZooEntry


def main(request: dict[str, Any], channel: Any) -> None:
    for fields in request["entries"]:
        entry = ZooEntry(**dict(fields, path=Path(fields["path"])))
        measures = measure_in_child(entry)
        if "feature_grid" in measures:
            measures["feature_grid"] = list(measures["feature_grid"])
        channel.send({"type": "probe", "path": fields["path"], "measures": measures})
    channel.send({"type": "result"})
