"""The search run loop: open a run directory, then propose, validate and train until the budget ends.

For each candidate index the generator's proposal is stored before anything else happens
to it, so a resumed run never requests it again. The proposal is validated, compared with
the earlier candidates by structural hash, and trained in a trial process on one of
`search.workers` slots. `nncaption.search.driver` schedules these steps. Running the same
command on the same run directory resumes: finished candidates are kept, and interrupted
trials continue after their last finished epoch. One search at a time may use a run
directory (`search.run_lock`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from nncaption import contract
from nncaption.config import RunConfig, check_config, dump_config, load_config
from nncaption.data.cache import PreparedData
from nncaption.data.prepare import prepare_data
from nncaption.errors import ConfigError, UsageError
from nncaption.generate import GENERATORS, DataFacts, GenerationContext, Generator, load_generators
from nncaption.search.run_lock import RunLock
from nncaption.store import Store
from nncaption.trial.runner import EpochScore, constant_caption_scores

log = logging.getLogger(__name__)

# Config keys that may change when a run resumes: they set its budget and its report, not its results.
RESUMABLE_KEYS = {"search.candidates", "search.workers", "search.lookahead", "search.max_trials", "search.max_seconds",
                  "search.max_llm_tokens", "search.report", "search.report_top", "search.probe_images",
                  # The cache is keyed by content, so moving it changes no result.
                  "data.cache_dir"}


class SearchEvents(Protocol):
    """Callbacks the CLI uses to show progress; the driver thread calls them."""

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
    generator_threads: int = 1  # proposals and repair rounds requested at the same time
    lock: RunLock | None = field(default=None, repr=False)  # held until `close`

    def candidate_dir(self, candidate_id: int) -> Path:
        return self.run_dir / "candidates" / f"{candidate_id:04d}"

    def close(self) -> None:
        """Close the store and free the run directory for another search."""
        self.store.close()
        if self.lock is not None:
            self.lock.release()


def open_run(run_dir: Path, config: RunConfig, progress: Any = None) -> SearchRun:
    """Create or reopen a run directory; a reopened run must have the same config, budgets aside."""
    check_config(config)
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"--run-dir {run_dir} exists and is not a directory; choose another path")
    try:
        (run_dir / "candidates").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the run directory {run_dir}: {exc.strerror}; choose a writable path") from exc
    lock = RunLock(run_dir)
    try:
        return _open_locked(run_dir, config, progress, lock)
    except BaseException:
        lock.release()
        raise


def _open_locked(run_dir: Path, config: RunConfig, progress: Any, lock: RunLock) -> SearchRun:
    _check_same_config(run_dir / "config.yaml", config)
    dump_config(config, run_dir / "config.yaml")

    prepared = prepare_data(config.data, progress)
    facts = DataFacts(prepared.manifest["image_size"], prepared.vocab_size, prepared.manifest["max_len"], 5)
    param_budget = config.trial.param_budget or contract.DEFAULT_PARAM_BUDGET
    context = GenerationContext(facts, param_budget, config.generator.seed, tuple(config.zoo.extra_dirs))
    load_generators()
    if config.generator.kind not in GENERATORS:
        raise ConfigError(f"unknown generator.kind {config.generator.kind!r}; expected one of: {', '.join(sorted(GENERATORS))}")
    generator = GENERATORS[config.generator.kind](config.generator, context)
    store = Store(run_dir / "store.sqlite")
    store.set_meta("data", {"path": str(prepared.path), "manifest": prepared.manifest})
    # The figures the report compares candidates with: scored on the same val and test images as the trials.
    store.set_meta("constant_caption", constant_caption_scores(prepared, config))
    # The composer is CPU work and fast; LLM generators overlap up to generator.concurrency requests.
    threads = 1 if config.generator.kind == "composer" else max(1, config.generator.concurrency)
    return SearchRun(run_dir, config, store, prepared, generator, param_budget, threads, lock)


def _check_same_config(path: Path, config: RunConfig) -> None:
    if not path.is_file():
        return
    previous = load_config(path).to_dict()
    # How the LLM server is reached does not change what a stored reply means, so these may change too.
    connection = {f"generator.{k}" for k in ("base_url", "api_key_env", "request_timeout_s", "retries", "backoff_s", "concurrency")}
    changed = [f"{s}.{k}" for s, values in config.to_dict().items() for k, v in values.items()
               if previous[s][k] != v and f"{s}.{k}" not in RESUMABLE_KEYS | connection]
    if changed:
        raise ConfigError(
            f"the run directory {path.parent} was started with a different config ({', '.join(changed)} differ); "
            "resume with the same options (only the budget, report and LLM connection keys may change), "
            "or choose a new --run-dir"
        )


def run_search(run: SearchRun, events: SearchEvents | None = None) -> None:
    """Propose, validate and train candidates until the run's budget is used."""
    from nncaption.search.driver import Driver

    Driver(run, events).run_to_end()
