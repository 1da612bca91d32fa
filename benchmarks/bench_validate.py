"""Latency of the static verdict (`validate_source` then `status_for`) per file over the fault corpus.

Usage: python benchmarks/bench_validate.py [--repeat N]

The first pass runs with an empty cache of torch name look-ups; later passes reuse it,
as a long search does. Importing torch happens once, before timing starts.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from nncaption.codegen.checks_torch import missing_name
from nncaption.codegen.validate import status_for, validate_source

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "contract" / "corpus"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _time_pass(sources: list[tuple[str, bytes]]) -> list[float]:
    timings = []
    for name, source in sources:
        started = time.perf_counter()
        status_for(validate_source(source, name))
        timings.append((time.perf_counter() - started) * 1000.0)
    return timings


def _summary(label: str, timings: list[float]) -> str:
    return (f"{label:<12} files={len(timings):4d}  p50={_percentile(timings, 0.50):6.2f} ms  "
            f"p95={_percentile(timings, 0.95):6.2f} ms  max={max(timings):6.2f} ms  "
            f"mean={statistics.fmean(timings):6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="passes over the corpus after the first (default 20)")
    args = parser.parse_args()

    paths = sorted(CORPUS.glob("*/*.py"))
    sources = [(path.name, path.read_bytes()) for path in paths]
    missing_name("torch.nn.Module")  # import torch outside the timed region
    missing_name.cache_clear()

    first = _time_pass(sources)
    warm: list[float] = []
    for _ in range(args.repeat):
        warm.extend(_time_pass(sources))
    print(f"static verdict latency over {len(sources)} corpus files ({CORPUS})")
    print(_summary("first pass", first))
    print(_summary("warm passes", warm))
    print(_summary("all", first + warm))


if __name__ == "__main__":
    main()
