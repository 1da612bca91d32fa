"""The search run loop.

For each candidate index: obtain a proposal (or reuse the one stored by an earlier,
interrupted run), validate it, drop exact duplicates, and train it in a trial process.
Trials run on `search.workers` slots at once; the driver thread alone writes the store.
Running the same command on the same run directory resumes: finished candidates are
kept, interrupted ones are trained again from their start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from nncaption import contract
from nncaption.codegen.validate import status_for, validate_source
from nncaption.config import RunConfig, dump_config, load_config
from nncaption.data.cache import PreparedData
from nncaption.data.prepare import prepare_data
from nncaption.errors import ConfigError, UsageError
from nncaption.generate import GENERATORS, DataFacts, GenerationContext, Generator, Proposal, load_generators
from nncaption.status import Status
from nncaption.store import Store
from nncaption.trial.runner import EpochScore, TrialOutcome, run_trial

log = logging.getLogger(__name__)

UNFINISHED = ("pending", "running")


class SearchEvents(Protocol):
    """What the CLI shows while the search runs (called from the driver thread)."""

    def candidate_started(self, candidate_id: int, summary: str) -> None: ...
    def epoch_scored(self, candidate_id: int, score: EpochScore) -> None: ...
    def candidate_finished(self, candidate_id: int, status: str, message: str, val_bleu4: float | None, seconds: float) -> None: ...


@dataclass
class SearchRun:
    """A run directory with its store, prepared data and generator."""

    run_dir: Path
    config: RunConfig
    store: Store
    prepared: PreparedData
    generator: Generator
    param_budget: int
    epoch_queue: queue.Queue[tuple[int, EpochScore]] = field(default_factory=queue.Queue)

    def candidate_dir(self, candidate_id: int) -> Path:
        return self.run_dir / "candidates" / f"{candidate_id:04d}"


def open_run(run_dir: Path, config: RunConfig, progress: Any = None) -> SearchRun:
    """Create or reopen a run directory; a reopened run must have the same config."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"--run-dir {run_dir} exists and is not a directory; choose another path")
    try:
        (run_dir / "candidates").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the run directory {run_dir}: {exc.strerror}; choose a writable path") from exc
    _check_same_config(run_dir / "config.yaml", config)
    dump_config(config, run_dir / "config.yaml")

    prepared = prepare_data(config.data, progress)
    facts = DataFacts(prepared.manifest["image_size"], prepared.vocab_size, prepared.manifest["max_len"], 5)
    param_budget = config.trial.param_budget or contract.DEFAULT_PARAM_BUDGET
    context = GenerationContext(facts, param_budget, config.generator.seed)
    load_generators()
    if config.generator.kind not in GENERATORS:
        raise ConfigError(f"unknown generator.kind {config.generator.kind!r}; expected one of: {', '.join(sorted(GENERATORS))}")
    generator = GENERATORS[config.generator.kind](config.generator, context)
    store = Store(run_dir / "store.sqlite")
    store.set_meta("data", {"path": str(prepared.path), "manifest": prepared.manifest})
    return SearchRun(run_dir, config, store, prepared, generator, param_budget)


def _check_same_config(path: Path, config: RunConfig) -> None:
    if not path.is_file():
        return
    previous = load_config(path)
    if previous.to_dict() != config.to_dict():
        changed = [f"{s}.{k}" for s, values in config.to_dict().items() for k, v in values.items()
                   if previous.to_dict()[s][k] != v]
        raise ConfigError(
            f"the run directory {path.parent} was started with a different config ({', '.join(changed)} differ); "
            "resume with the same options, or choose a new --run-dir"
        )


def run_search(run: SearchRun, events: SearchEvents | None = None) -> None:
    """Propose, validate and train candidates until the run's budget is used."""
    todo = [i for i in range(run.config.search.candidates) if _needs_work(run.store, i)]
    futures: dict[Future[TrialOutcome], int] = {}
    with ThreadPoolExecutor(max_workers=max(1, run.config.search.workers), thread_name_prefix="trial") as pool:
        while todo or futures:
            while todo and len(futures) < max(1, run.config.search.workers):
                candidate_id = todo.pop(0)
                job = _prepare_candidate(run, candidate_id, events)
                if job is not None:
                    futures[pool.submit(*job)] = candidate_id
            done, _ = wait(futures, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain_epochs(run, events)
            for future in done:
                _record_outcome(run, futures.pop(future), future.result(), events)
        _drain_epochs(run, events)


def _needs_work(store: Store, candidate_id: int) -> bool:
    row = store.candidate(candidate_id)
    return row is None or row["status"] in UNFINISHED


def _prepare_candidate(run: SearchRun, candidate_id: int, events: SearchEvents | None) -> tuple[Any, ...] | None:
    """Store the proposal and its checks; return the trial job, or None when no trial is needed."""
    folder = run.candidate_dir(candidate_id)
    row = run.store.candidate(candidate_id)
    if row is None:
        proposal = run.generator.propose(candidate_id)
        _save_proposal(run, candidate_id, proposal)
        row = run.store.candidate(candidate_id)
        if proposal.status is not None:
            _finish(run, candidate_id, proposal.status, proposal.message, events)
            return None
    source = (folder / "model.py").read_text(encoding="utf-8")
    meta = json.loads(row["meta_json"])
    if events is not None:
        events.candidate_started(candidate_id, _summary(meta))

    violations = validate_source(source, "model.py")
    run.store.update_candidate(candidate_id, violations_json=[v.to_dict() for v in violations])
    status = status_for(violations)
    if status is not None:
        first = next(v for v in violations if v.severity == "error")
        _finish(run, candidate_id, status, f"line {first.line}: [{first.rule}] {first.message}", events)
        return None

    original = run.store.first_with_source(row["source_sha256"], candidate_id)
    if original is not None:
        run.store.update_candidate(candidate_id, duplicate_of=original)
        _finish(run, candidate_id, Status.DUPLICATE, f"same source as candidate {original}", events)
        return None

    run.store.clear_epochs(candidate_id)
    run.store.update_candidate(candidate_id, status="running")

    def on_epoch(score: EpochScore) -> None:
        run.epoch_queue.put((candidate_id, score))

    return (run_trial, folder / "model.py", folder / "trial", run.prepared, run.config, meta.get("prm", {}), run.param_budget, on_epoch)


def _save_proposal(run: SearchRun, candidate_id: int, proposal: Proposal) -> None:
    folder = run.candidate_dir(candidate_id)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in proposal.artifacts.items():
        (folder / Path(name).name).write_text(text, encoding="utf-8")
    sha = None
    if proposal.source is not None:
        (folder / "model.py").write_text(proposal.source, encoding="utf-8")
        sha = hashlib.sha256(proposal.source.encode("utf-8")).hexdigest()
    meta = dict(proposal.meta, extraction=proposal.extraction)
    run.store.add_candidate(candidate_id, run.generator.kind, meta, sha)
    if proposal.llm_calls:
        run.store.add_llm_calls(candidate_id, proposal.llm_calls)
    if proposal.repairs:
        run.store.add_repairs(candidate_id, proposal.repairs)


def _summary(meta: dict[str, Any]) -> str:
    design = meta.get("design")
    if design:
        return f"{design['backbone']} {design['features']} -> {design['decoder']}"
    return str(meta.get("base_model", meta.get("generator", "")))


def _drain_epochs(run: SearchRun, events: SearchEvents | None) -> None:
    while True:
        try:
            candidate_id, score = run.epoch_queue.get_nowait()
        except queue.Empty:
            return
        run.store.add_epoch(candidate_id, score.epoch, score.train_loss, score.val_metrics,
                            score.train_seconds, score.eval_seconds, score.images_per_second)
        if events is not None:
            events.epoch_scored(candidate_id, score)


def _record_outcome(run: SearchRun, candidate_id: int, outcome: TrialOutcome, events: SearchEvents | None) -> None:
    _drain_epochs(run, events)
    best = outcome.best
    run.store.update_candidate(
        candidate_id,
        parameters=outcome.parameters,
        prm_json=outcome.prm,
        checks_json=outcome.checks,
        best_epoch=outcome.best_epoch,
        val_metrics_json=best.val_metrics if best else None,
        val_bleu4=best.val_metrics.get("Bleu_4") if best else None,
        test_metrics_json=outcome.test_metrics,
        test_bleu4=(outcome.test_metrics or {}).get("Bleu_4"),
        seconds=outcome.seconds,
    )
    _finish(run, candidate_id, outcome.status, outcome.message, events, outcome.seconds)


def _finish(run: SearchRun, candidate_id: int, status: Status, message: str, events: SearchEvents | None, seconds: float = 0.0) -> None:
    run.store.update_candidate(candidate_id, status=str(status), message=message, finished_at=time.time())
    row = run.store.candidate(candidate_id)
    log.info("candidate %d: %s%s (val BLEU-4 %s, %.0f s)", candidate_id, status, f": {message}" if message else "",
             "-" if row["val_bleu4"] is None else f"{row['val_bleu4']:.3f}", seconds)
    if events is not None:
        events.candidate_finished(candidate_id, str(status), message, row["val_bleu4"], seconds)
