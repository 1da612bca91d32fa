"""Load a candidate model file as a module. Runs only inside the trial child process."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path


def load_candidate(path: str | Path, name: str = "candidate_model") -> types.ModuleType:
    """Import the model file at `path` under module name `name`."""
    path = Path(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load a module from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
