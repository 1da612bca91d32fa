"""Helpers of the search tests: tiny data settings, CLI arguments and a replay file of LLM replies."""

from __future__ import annotations

import json
from pathlib import Path

MODEL = (Path(__file__).parents[1] / "llm" / "fixtures" / "models" / "lstm_captioner.py").read_text(encoding="utf-8")

TINY_DATA = [
    "data.synthetic_images=80",
    "data.synthetic_size=32",
    "data.image_size=16",
    "data.min_count=1",
]


def model_variant(width: int, fail_build: bool = False) -> str:
    """Return the fixture model with hidden width `width`; `fail_build` adds the fake trial's failure marker."""
    source = MODEL.replace("64", str(width))
    return source + ("\n# FAIL_BUILD\n" if fail_build else "")


def write_replay(path: Path, candidates: int, failing: set[int]) -> Path:
    """Write one reply per candidate (a distinct width each), plus a repair reply for each failing one."""
    lines = []
    for index in range(candidates):
        lines.append({"candidate": index, "call": 0, "reply": f"```python\n{model_variant(40 + index, index in failing)}```",
                      "tokens_in": 100, "tokens_out": 50})
        if index in failing:
            lines.append({"candidate": index, "call": 1, "reply": f"```python\n{model_variant(140 + index)}```",
                          "tokens_in": 120, "tokens_out": 60})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def search_args(run_dir: Path, cache: Path, *settings: str) -> list[str]:
    args = ["-q", "search", "--run-dir", str(run_dir), "--set", f"data.cache_dir={cache}"]
    for item in [*TINY_DATA, *settings]:
        args += ["--set", item]
    return args
