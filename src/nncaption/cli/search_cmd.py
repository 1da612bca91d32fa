"""`nncaption search`: the main job."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from nncaption.cli.common import add_config_options, config_from_args
from nncaption.cli.tables import format_table
from nncaption.report import write_report
from nncaption.search.loop import open_run, run_search
from nncaption.trial.runner import EpochScore, constant_caption_scores

SAMPLE_CAPTIONS = 5


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "search",
        help="propose, train and score captioning models (the main job)",
        description="Run an architecture search. Defaults: the built-in synthetic data set and the composer generator. "
        "Running the same command on the same --run-dir resumes the run.",
    )
    parser.add_argument("--run-dir", type=Path, default=Path("runs/default"), help="run directory (default: runs/default)")
    add_config_options(parser)
    parser.set_defaults(run=run)


class _Progress:
    """Progress bar over candidates, plus one line per finished candidate."""

    def __init__(self, total: int) -> None:
        self.bar = tqdm(total=total, desc="candidates", unit="cand", file=sys.stderr, dynamic_ncols=True)

    def candidate_started(self, candidate_id: int, summary: str) -> None:
        self.bar.set_postfix_str(f"#{candidate_id} {summary}")

    def epoch_scored(self, candidate_id: int, score: EpochScore) -> None:
        loss = "-" if score.train_loss is None else f"{score.train_loss:.3f}"
        self.bar.write(f"  #{candidate_id} epoch {score.epoch}: train loss {loss}, val BLEU-4 {score.val_metrics['Bleu_4']:.3f}")

    def candidate_finished(self, candidate_id: int, status: str, message: str, val_bleu4: float | None, seconds: float) -> None:
        score = "" if val_bleu4 is None else f" val BLEU-4 {val_bleu4:.3f}"
        detail = f" ({message})" if message else ""
        self.bar.write(f"#{candidate_id} {status}{score} in {seconds:.0f} s{detail}")
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _data_progress(stage: str, done: int, total: int) -> None:
    print(f"\rpreparing data: {stage} {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    started = time.monotonic()
    search = open_run(args.run_dir, config, _data_progress)
    try:
        _search_and_report(search, args.run_dir, started)
    finally:
        search.close()
    return 0


def _search_and_report(search: Any, run_dir: Any, started: float) -> None:
    progress = _Progress(search.config.search.candidates)
    progress.bar.update(sum(1 for r in search.store.candidates() if r["status"] not in ("pending", "running", "repairing")))
    try:
        run_search(search, progress)
    finally:
        progress.close()
    # Wall-clock time over every run of this directory, so a resumed run reports the whole search.
    elapsed = float(search.store.get_meta("elapsed_s", time.monotonic() - started))
    print_summary(search.store.candidates(), search, elapsed)
    search.store.close()  # the report opens the store on its own; the run lock stays held until it is written
    if search.config.search.report:
        print(f"report: {write_report(run_dir)}")


def print_summary(rows: list[Any], search: Any, seconds: float) -> None:
    headers = ["id", "backbone", "decoder", "features", "params", "status", "val BLEU-4", "test BLEU-4", "seconds"]
    table = []
    for row in rows:
        design = json.loads(row["meta_json"]).get("design", {})
        table.append([row["id"], design.get("backbone", "-"), design.get("decoder", "-"), design.get("features", "-"),
                      _count(row["parameters"]), row["status"], _score(row["val_bleu4"]), _score(row["test_bleu4"]),
                      "-" if row["seconds"] is None else f"{row['seconds']:.0f}"])
    print(format_table(headers, table))

    trained = [r for r in rows if r["status"] == "trained"]
    constant = constant_caption_scores(search.prepared, search.config)
    print(f"\n{len(trained)}/{len(rows)} candidates trained in {seconds / 60:.1f} min; run directory: {search.run_dir}")
    if constant is None:
        return
    subsets = [f"{constant[f'{split}_images']} {split}" for split in ("val", "test") if f"{split}_images" in constant]
    images = f" on the candidates' {' and '.join(subsets)} images" if subsets else ""
    print(f"best constant caption: \"{constant['caption']}\" (val BLEU-4 {constant['val_bleu4']:.3f}, "
          f"test BLEU-4 {constant['test_bleu4']:.3f}{images})")
    scored = [r for r in trained if r["test_bleu4"] is not None]
    if not scored:
        return
    best = max(scored, key=lambda r: r["val_bleu4"])
    ratio = best["test_bleu4"] / constant["test_bleu4"] if constant["test_bleu4"] > 0 else float("inf")
    print(f"best candidate (selected on val): #{best['id']}, test BLEU-4 {best['test_bleu4']:.3f} ({ratio:.1f}x the constant caption)")
    _print_samples(search, best["id"])


def _print_samples(search: Any, candidate_id: int) -> None:
    path = search.candidate_dir(candidate_id) / "trial" / "val_hypotheses.json"
    if not path.is_file():
        return
    hypotheses = json.loads(path.read_text(encoding="utf-8"))[:SAMPLE_CAPTIONS]
    references = search.prepared.references("val")
    print(f"\ncaptions of candidate #{candidate_id} on val images:")
    for item in hypotheses:
        print(f"  image {item['image_id']}: {item['caption']}")
        for reference in references[int(item["image_id"])][:2]:
            print(f"      reference: {reference}")


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _count(value: int | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1e6:.2f}M" if value >= 1e6 else f"{value / 1e3:.0f}k"
