"""Baseline trials: the zoo's captioners, trained under the run's trial settings.

They answer the report's question of how the candidates compare with hand-written models.
A baseline trains in `RUN_DIR/baselines/<name>/` once per run; a resumed run re-runs only
baselines that were interrupted.
"""

from __future__ import annotations

import logging
import queue
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nncaption.search.candidates import cost_figures, outcome_columns
from nncaption.trial.runner import EpochScore, TrialOutcome
from nncaption.zoo import list_entries

if TYPE_CHECKING:
    from nncaption.search.loop import SearchRun

log = logging.getLogger(__name__)


@dataclass
class BaselineJob:
    name: str
    call: tuple[Any, ...]  # run_trial and its arguments, for a thread pool's submit


class BaselineJobs:
    """The baselines still to train in this run."""

    def __init__(self, run: SearchRun) -> None:
        self.run = run
        finished = {row["name"] for row in run.store.baselines() if row["status"] != "running"}
        self.todo = [e for e in list_entries(kind="captioner", probe=False) if e.name not in finished]

    def next_job(self, epoch_queue: queue.Queue[tuple[Any, EpochScore]], trial: Callable[..., TrialOutcome]) -> BaselineJob | None:
        """Return the next baseline's trial call (`trial` is run_trial), or None when all are done."""
        if not self.todo:
            return None
        entry = self.todo.pop(0)
        folder = self.run.run_dir / "baselines" / entry.name
        folder.mkdir(parents=True, exist_ok=True)
        model = folder / "model.py"
        shutil.copyfile(entry.path, model)
        self.run.store.start_baseline(entry.name)

        def on_epoch(score: EpochScore) -> None:
            epoch_queue.put((entry.name, score))

        log.info("baseline %s: training", entry.name)
        call = (trial, model, folder / "trial", self.run.prepared, self.run.config, {}, self.run.param_budget, on_epoch)
        return BaselineJob(entry.name, call)

    def record(self, name: str, outcome: TrialOutcome) -> None:
        columns = outcome_columns(outcome)
        fields = {k: columns[k] for k in ("status", "message", "parameters", "best_epoch", "val_metrics_json",
                                          "val_bleu4", "test_metrics_json", "test_bleu4", "seconds")}
        fields["costs_json"] = cost_figures(outcome)
        self.run.store.finish_baseline(name, fields)
        log.info("baseline %s: %s (test BLEU-4 %s, %.0f s)", name, outcome.status,
                 "-" if fields["test_bleu4"] is None else f"{fields['test_bleu4']:.3f}", outcome.seconds)
