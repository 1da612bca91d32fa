"""Parent side of a trial: run the child, score its hypotheses, select the epoch, score test once."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nncaption.config import RunConfig
from nncaption.data.cache import PreparedData
from nncaption.metrics import evaluate
from nncaption.sandbox import SandboxLimits, run_in_sandbox
from nncaption.sandbox.outcome import classify_failure
from nncaption.status import Status

log = logging.getLogger(__name__)

CHILD_ENTRY = "nncaption.trial.child"


@dataclass
class EpochScore:
    epoch: int
    train_loss: float | None
    val_metrics: dict[str, float]
    train_seconds: float | None
    eval_seconds: float | None
    images_per_second: float | None


@dataclass
class TrialOutcome:
    status: Status
    message: str = ""
    parameters: int | None = None
    prm: dict[str, Any] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)
    epochs: list[EpochScore] = field(default_factory=list)
    best_epoch: int | None = None
    test_metrics: dict[str, float] | None = None
    seconds: float = 0.0

    @property
    def best(self) -> EpochScore | None:
        return next((e for e in self.epochs if e.epoch == self.best_epoch), None)


def subset_indices(prepared: PreparedData, split: str, count: int, seed: int) -> list[int] | None:
    """A fixed, seeded subset of a split's array positions; None for the whole split."""
    total = prepared.manifest["splits"][split]["images"]
    if count <= 0 or count >= total:
        return None
    import random

    return sorted(random.Random(f"{split}-{seed}").sample(range(total), count))


def run_trial(
    model_path: Path,
    trial_dir: Path,
    prepared: PreparedData,
    config: RunConfig,
    prm: dict[str, Any],
    param_budget: int,
    on_epoch: Callable[[EpochScore], None] | None = None,
) -> TrialOutcome:
    """Train and score one model file under the run's protocol."""
    trial_dir.mkdir(parents=True, exist_ok=True)
    val_indices = subset_indices(prepared, "val", config.data.val_images, config.trial.seed)
    test_indices = subset_indices(prepared, "test", config.data.test_images, config.trial.seed)
    references = {s: _subset_references(prepared, s, idx) for s, idx in (("val", val_indices), ("test", test_indices))}
    request = {
        "mode": "train", "model_path": str(model_path.resolve()), "cache_dir": str(prepared.path),
        "image_size": prepared.manifest["image_size"], "vocab_size": prepared.vocab_size,
        "batch_size": config.trial.batch_size, "epochs": config.trial.epochs, "seed": config.trial.seed,
        "threads": config.trial.threads, "max_decode_len": config.trial.max_decode_len, "prm": prm,
        "param_budget": param_budget, "val_indices": val_indices,
    }
    outcome = TrialOutcome(Status.TRAINED)
    best_score = -1.0

    def on_record(record: dict[str, Any]) -> None:
        nonlocal best_score
        if record["type"] == "built":
            outcome.parameters, outcome.prm = int(record["parameters"]), dict(record.get("prm", {}))
        elif record["type"] == "checks":
            outcome.checks = list(record.get("results", []))
        elif record["type"] == "epoch":
            score = _score_epoch(record, references["val"])
            outcome.epochs.append(score)
            if score.val_metrics["Bleu_4"] > best_score:  # ties keep the earlier epoch
                best_score, outcome.best_epoch = score.val_metrics["Bleu_4"], score.epoch
                _write_results(trial_dir / "val_hypotheses.json", record["hypotheses"])
            _prune_checkpoints(trial_dir, keep={outcome.best_epoch, score.epoch})
            if on_epoch is not None:
                on_epoch(score)

    limits = SandboxLimits(wall_seconds=config.trial.timeout_s, threads=config.trial.threads)
    result = run_in_sandbox(CHILD_ENTRY, request, trial_dir, limits, on_record)
    outcome.seconds = result.seconds
    if not any(r["type"] == "result" for r in result.records):
        outcome.status, outcome.message = _failure(result)
        return outcome

    outcome.status, outcome.message = _health(outcome)
    if outcome.best_epoch is not None:
        outcome.test_metrics = _score_test(request, trial_dir, outcome.best_epoch, test_indices, references["test"], limits)
        if outcome.test_metrics is None:
            outcome.status, outcome.message = Status.TRAIN_ERROR, "test evaluation of the selected epoch failed"
    _prune_checkpoints(trial_dir, keep={outcome.best_epoch})
    return outcome


def _subset_references(prepared: PreparedData, split: str, indices: list[int] | None) -> dict[str, list[str]]:
    references = prepared.references(split)
    ids = prepared.image_ids(split)
    chosen = ids if indices is None else [ids[i] for i in indices]
    return {str(i): references[i] for i in chosen}


def _score_epoch(record: dict[str, Any], references: dict[str, list[str]]) -> EpochScore:
    hypotheses = {k: v for k, v in record["hypotheses"].items() if k in references}
    missing = set(references) - set(hypotheses)
    hypotheses.update({k: "" for k in missing})  # an image the child did not caption scores as empty
    return EpochScore(int(record["epoch"]), record.get("train_loss"), evaluate(references, hypotheses),
                      record.get("train_seconds"), record.get("eval_seconds"), record.get("images_per_second"))


def _failure(result: Any) -> tuple[Status, str]:
    errors = [r for r in result.records if r["type"] == "error" and r.get("status")]
    if errors and not result.timed_out:
        status = errors[-1]["status"]
        return Status(status) if status in Status._value2member_map_ else Status.TRAIN_ERROR, str(errors[-1].get("message", ""))
    return classify_failure(result)


def _health(outcome: TrialOutcome) -> tuple[Status, str]:
    best = outcome.best
    if best is None:
        return Status.TRAIN_ERROR, "no epoch finished"
    return Status.TRAINED, ""


def _score_test(request: dict[str, Any], trial_dir: Path, epoch: int, indices: list[int] | None,
                references: dict[str, list[str]], limits: SandboxLimits) -> dict[str, float] | None:
    """Decode test with the val-selected checkpoint and score it: the only test scoring of the trial."""
    evaluate_request = dict(request, mode="evaluate", split="test", val_indices=None, test_indices=indices,
                            checkpoint=str((trial_dir / "checkpoints" / f"epoch_{epoch}.pt").resolve()))
    result = run_in_sandbox(CHILD_ENTRY, evaluate_request, trial_dir / "evaluate", limits)
    final = [r for r in result.records if r["type"] == "result"]
    if not final:
        log.warning("test evaluation failed in %s: %s", trial_dir, classify_failure(result)[1])
        return None
    hypotheses = {k: v for k, v in final[-1]["hypotheses"].items() if k in references}
    hypotheses.update({k: "" for k in set(references) - set(hypotheses)})
    _write_results(trial_dir / "test_hypotheses.json", hypotheses)
    return evaluate(references, hypotheses)


def _write_results(path: Path, hypotheses: dict[str, str]) -> None:
    """Hypotheses in the COCO results format: [{"image_id", "caption"}]."""
    results = [{"image_id": int(k), "caption": v} for k, v in sorted(hypotheses.items(), key=lambda kv: int(kv[0]))]
    path.write_text(json.dumps(results), encoding="utf-8")


def _prune_checkpoints(trial_dir: Path, keep: set[int | None]) -> None:
    folder = trial_dir / "checkpoints"
    if not folder.is_dir():
        return
    for path in folder.glob("epoch_*.pt"):
        if int(path.stem.split("_")[1]) not in keep:
            path.unlink(missing_ok=True)
    if keep == {None}:
        shutil.rmtree(folder, ignore_errors=True)
