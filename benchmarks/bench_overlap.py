"""Throughput of the overlapped search loop against a sequential generate-then-train loop.

The generator is the composer behind a fixed sleep (`--latency`, standing in for an LLM
reply), and each trial sleeps `--trial` seconds instead of training, so the figure measures
the scheduling alone. Both loops run the same driver with one worker slot: the sequential
one with `search.lookahead=0` (the next proposal is requested only when the slot is free),
the overlapped one with `search.lookahead=2`. With latency equal to the trial time the ideal
ratio is 2N/(N+1) for N candidates.

    .venv/bin/python benchmarks/bench_overlap.py [--candidates 16] [--latency 1.0] [--trial 1.0]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import nncaption.search.driver as driver
from nncaption.config import load_config
from nncaption.generate import GENERATORS, Proposal, load_generators
from nncaption.search.loop import open_run, run_search
from nncaption.status import Status
from nncaption.trial.runner import EpochScore, TrialOutcome

TINY_DATA = ["data.synthetic_images=80", "data.synthetic_size=32", "data.image_size=16", "data.min_count=1"]


class ScriptedGenerator:
    """The composer's proposals, each returned after a fixed latency."""

    def __init__(self, inner, latency: float) -> None:
        self.inner, self.latency, self.kind = inner, latency, "scripted"

    def propose(self, index: int) -> Proposal:
        time.sleep(self.latency)
        return self.inner.propose(index)

    def repair(self, proposal: Proposal, feedback: str, attempt: int) -> Proposal | None:
        return None


def sleeping_trial(seconds: float):
    def run_trial(model_path, trial_dir, prepared, config, prm, param_budget, on_epoch=None) -> TrialOutcome:
        time.sleep(seconds)
        score = EpochScore(1, 1.0, {"Bleu_4": 0.1}, seconds, 0.0, None)
        if on_epoch is not None:
            on_epoch(score)
        return TrialOutcome(Status.TRAINED, parameters=1, epochs=[score], best_epoch=1, test_metrics={"Bleu_4": 0.1},
                            seconds=seconds)
    return run_trial


def measure(lookahead: int, args: argparse.Namespace, cache: Path) -> float:
    """Run one search and return its wall-clock seconds from the first proposal to the last trial."""
    with tempfile.TemporaryDirectory() as folder:
        config = load_config(None, TINY_DATA + [f"data.cache_dir={cache}", f"search.candidates={args.candidates}",
                                                "search.workers=1", f"search.lookahead={lookahead}", "search.report=false"])
        run = open_run(Path(folder) / "run", config)
        run.generator = ScriptedGenerator(run.generator, args.latency)
        started = time.monotonic()
        run_search(run)
        seconds = time.monotonic() - started
        statuses = {row["status"] for row in run.store.candidates()}
        run.store.close()
    assert statuses == {"trained"}, statuses
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=16)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per proposal")
    parser.add_argument("--trial", type=float, default=1.0, help="seconds per trial")
    args = parser.parse_args()

    load_generators()
    assert "composer" in GENERATORS
    driver.run_trial = sleeping_trial(args.trial)
    with tempfile.TemporaryDirectory() as cache:
        sequential = measure(0, args, Path(cache))
        overlapped = measure(2, args, Path(cache))
    print(f"{args.candidates} candidates, proposal latency {args.latency:.2f} s, trial {args.trial:.2f} s, 1 worker slot")
    print(f"sequential (lookahead 0): {sequential:6.2f} s  {args.candidates / sequential:.3f} candidates/s")
    print(f"overlapped (lookahead 2): {overlapped:6.2f} s  {args.candidates / overlapped:.3f} candidates/s")
    print(f"speed-up: {sequential / overlapped:.2f}x (ideal {2 * args.candidates / (args.candidates + 1):.2f}x)")


if __name__ == "__main__":
    main()
