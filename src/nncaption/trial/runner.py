"""Parent side of a trial: run the child, score its hypotheses, select the epoch, score test once.

The parent alone holds the references. It scores each epoch's val hypotheses as they
arrive and keeps the checkpoint of the best val BLEU-4 (ties keep the earlier epoch).
After each epoch it writes its verdict, train on or stop, for the child (`trial.control`).
After training, a second child decodes test with the selected checkpoint: the only test
scoring of the trial.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nncaption.config import RunConfig, check_trial_values
from nncaption.data.cache import PreparedData
from nncaption.errors import ConfigError
from nncaption.metrics import evaluate
from nncaption.sandbox import SandboxLimits, run_in_sandbox
from nncaption.sandbox.outcome import classify_failure
from nncaption.status import Status
from nncaption.trial import control, journal, resume_state
from nncaption.trial.decode import DECODING_METHODS
from nncaption.trial.protocol import (
    SELECTION_METRIC,
    constant_caption_bleu4,
    decide_after_epoch,
    degenerate_reason,
)

log = logging.getLogger(__name__)

CHILD_ENTRY = "nncaption.trial.child"
# Statuses after which the val-selected checkpoint is still scored on test: the epochs
# that finished are valid, only the trial as a whole failed a rule.
TEST_SCORED_STATUSES = (Status.TRAINED, Status.TIMEOUT, Status.DEGENERATE)


@dataclass
class EpochScore:
    epoch: int
    train_loss: float | None  # what learn() returned, when it returned a number
    val_metrics: dict[str, float]  # harness decoding: the score of record
    train_seconds: float | None
    eval_seconds: float | None
    images_per_second: float | None
    probe_loss: float | None = None  # harness cross-entropy on a fixed training batch
    val_metrics_own: dict[str, float] | None = None  # the model's own forward(images) decoding; secondary
    own_error: str | None = None  # why the own decoding was not scored


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
    test_metrics_own: dict[str, float] | None = None
    test_own_error: str | None = None
    stop_reason: str = ""  # why training ended before the last epoch, if it did
    seed: int | None = None
    device: str | None = None
    constant_val_bleu4: float | None = None  # the constant caption on the same val images
    flops_per_image: float | None = None  # one teacher-forcing forward, torch's FlopCounterMode
    peak_rss_bytes: int | None = None  # trial process, training child
    cuda_peak_bytes: int | None = None
    seconds_per_epoch: float | None = None  # mean training seconds per epoch
    images_per_second: float | None = None  # mean training throughput
    resumed_from_epoch: int | None = None  # the epoch whose resume state this run continued from

    @property
    def best(self) -> EpochScore | None:
        return next((e for e in self.epochs if e.epoch == self.best_epoch), None)


def subset_indices(prepared: PreparedData, split: str, count: int, seed: int) -> list[int] | None:
    """Return a fixed, seeded subset of a split's array positions, or None for the whole split."""
    total = prepared.manifest["splits"][split]["images"]
    if count <= 0 or count >= total:
        return None
    return sorted(random.Random(f"{split}-{seed}").sample(range(total), count))


def constant_caption_scores(prepared: PreparedData, config: RunConfig) -> dict[str, Any] | None:
    """Return the best constant caption and its val and test BLEU-4 on the images the trials are scored on.

    The manifest's figures cover the whole splits. With `data.val_images` or
    `data.test_images` subsets, the caption is scored again on the same subsets as every
    trial, so a candidate and the constant caption are compared on the same images.
    Returns None when the manifest has no constant caption.
    """
    constant = prepared.manifest.get("constant_caption")
    if not constant:
        return None
    scores: dict[str, Any] = {"caption": constant["caption"]}
    for split, count in (("val", config.data.val_images), ("test", config.data.test_images)):
        indices = subset_indices(prepared, split, count, config.trial.subset_seed)
        if indices is None or not constant.get("caption"):
            scores[f"{split}_bleu4"] = float(constant[f"{split}_bleu4"])
            continue
        references = _subset_references(prepared, split, indices)
        hypotheses = {key: constant["caption"] for key in references}
        scores[f"{split}_bleu4"] = evaluate(references, hypotheses, ["bleu"])[SELECTION_METRIC]
        scores[f"{split}_images"] = len(indices)
    return scores


def epoch_time_limit(config: RunConfig) -> float:
    """Return the per-epoch training time limit in seconds: the configured one, else the trial limit split over the epochs."""
    return config.trial.epoch_time_limit_s or config.trial.timeout_s / max(1, config.trial.epochs)


class _TrialState:
    """Parent-side state of a running training child: the outcome so far, the best epoch and the timings.

    Journals each scored epoch (`trial.journal`) before its verdict, and takes over the
    journaled epochs when the trial resumes.
    """

    def __init__(self, outcome: TrialOutcome, trial_dir: Path, config: RunConfig, references: dict[str, list[str]],
                 on_epoch: Callable[[EpochScore], None] | None) -> None:
        self.outcome, self.trial_dir, self.config, self.references = outcome, trial_dir, config, references
        self.on_epoch = on_epoch
        self.run_started = time.monotonic()  # when this run of the trial began
        self.journal: list[dict[str, Any]] = []  # epoch entries of the interrupted run, when resuming
        self.setup: dict[str, Any] | None = None
        self._restore([])

    def _restore(self, entries: list[dict[str, Any]]) -> None:
        """Reset to the state after the journaled `entries`: no epochs when the list is empty."""
        self.outcome.epochs, self.outcome.best_epoch, self.outcome.stop_reason = [], None, ""
        self.best_score = -1.0
        self.best_hypotheses: dict[str, str] = {}
        self.stopped_for_time = ""
        self.epoch_seconds: list[float] = []  # wall-clock per epoch: training, decoding, scoring, verdict
        for entry in entries:
            score = EpochScore(**entry["score"])
            self.outcome.epochs.append(score)
            if entry.get("epoch_seconds") is not None:
                self.epoch_seconds.append(float(entry["epoch_seconds"]))
            if score.val_metrics[SELECTION_METRIC] > self.best_score:
                self.best_score, self.outcome.best_epoch = score.val_metrics[SELECTION_METRIC], score.epoch
                self.best_hypotheses = dict(entry.get("hypotheses") or {})
                self._write_best_hypotheses(self.best_hypotheses, entry.get("own_hypotheses"))
        # Seconds the interrupted run had spent up to the last kept epoch count against the trial limit.
        self.spent_before = float(entries[-1]["elapsed_s"]) if entries else 0.0
        if not entries and self.setup is not None:
            self.spent_before = float(self.setup["elapsed_s"])
        self.started = self.run_started - self.spent_before
        self.epoch_mark = time.monotonic()  # when the current epoch began, by the parent's clock

    def resume_from_journal(self) -> int | None:
        """Take over the journaled epochs and return how many there are. Without a usable journal, log a warning and return None."""
        self.setup = journal.read_setup(self.trial_dir)
        if self.setup is None:
            log.warning("trial %s: no epoch journal from an earlier run, so training starts from epoch 1", self.trial_dir)
            return None
        self.journal = journal.read_epochs(self.trial_dir)
        try:
            self._restore(self.journal)
        except (KeyError, TypeError, ValueError) as exc:  # a journal written by another version of this code
            log.warning("trial %s: the epoch journal does not fit this version (%s: %s), so training starts from epoch 1",
                        self.trial_dir, type(exc).__name__, exc)
            self.setup, self.journal = None, []
            self._restore([])
            return None
        self.outcome.checks = list(self.setup.get("checks", []))
        self.outcome.flops_per_image = self.setup.get("flops_per_image")
        return len(self.journal)

    def on_record(self, record: dict[str, Any]) -> None:
        kind, outcome = record["type"], self.outcome
        if kind == "built":
            outcome.parameters, outcome.prm = int(record["parameters"]), dict(record.get("prm", {}))
            outcome.device = record.get("device")
        elif kind == "checks":
            outcome.checks = list(record.get("results", []))
        elif kind == "costs":
            outcome.flops_per_image = record.get("flops_per_image")
            journal.write_setup(self.trial_dir, outcome.checks, outcome.flops_per_image, time.monotonic() - self.started)
        elif kind == "phase" and record.get("name") == "train_setup":
            self.epoch_mark = time.monotonic()
        elif kind == "resumed":
            self._on_resumed(int(record["epoch"]), str(record.get("reason", "")))
        elif kind == "epoch":
            self._on_epoch(record)
        if kind in ("epoch", "result"):
            _note_memory(outcome, record)

    def _on_resumed(self, epoch: int, reason: str) -> None:
        """Keep the journaled epochs before the child's resumed `epoch`, or drop them all when it starts afresh (epoch 0)."""
        if epoch == 0:
            log.warning("trial %s: resume state not used, so training starts from epoch 1: %s", self.trial_dir, reason)
            self.setup, self.journal = None, []
            journal.clear(self.trial_dir)
            self._restore([])
            return
        # The child sends the record of `epoch` again, and the parent scores it and decides the verdict anew.
        log.info("trial %s resumes after epoch %d", self.trial_dir, epoch)
        self.outcome.resumed_from_epoch = epoch
        self._restore(self.journal[: epoch - 1])
        journal.drop_from(self.trial_dir, epoch)
        # Announced here rather than when the journal is read, so the re-sent epoch is announced once.
        if self.on_epoch is not None:
            for score in self.outcome.epochs:
                self.on_epoch(score)

    def _on_epoch(self, record: dict[str, Any]) -> None:
        if record.get("replayed"):
            # The replayed epoch trained in the interrupted run: count its training and decoding time.
            shift = float(record.get("train_seconds") or 0.0) + float(record.get("eval_seconds") or 0.0)
            self.started -= shift
            self.epoch_mark -= shift
        score, hypotheses = _score_epoch(record, self.references)
        self.outcome.epochs.append(score)
        entry: dict[str, Any] = {"score": dataclasses.asdict(score), "hypotheses": None, "own_hypotheses": None}
        if score.val_metrics[SELECTION_METRIC] > self.best_score:
            self.best_score, self.outcome.best_epoch = score.val_metrics[SELECTION_METRIC], score.epoch
            self.best_hypotheses = hypotheses
            own = (record.get("own") or {}).get("hypotheses")
            entry["hypotheses"] = hypotheses
            entry["own_hypotheses"] = None if own is None else _complete(own, self.references)
            self._write_best_hypotheses(hypotheses, entry["own_hypotheses"])
        _prune_checkpoints(self.trial_dir, keep={self.outcome.best_epoch, score.epoch})

        now = time.monotonic()
        self.epoch_seconds.append(now - self.epoch_mark)
        self.epoch_mark = now
        entry.update(epoch_seconds=self.epoch_seconds[-1], elapsed_s=now - self.started)
        journal.write_epoch(self.trial_dir, entry)
        if score.epoch < self.config.trial.epochs:
            self._send_verdict(score, now)
        if self.on_epoch is not None:
            self.on_epoch(score)

    def _write_best_hypotheses(self, hypotheses: dict[str, str], own: dict[str, str] | None) -> None:
        _write_results(self.trial_dir / "val_hypotheses.json", hypotheses)
        if own is not None:
            _write_results(self.trial_dir / "val_hypotheses_own.json", own)

    def _send_verdict(self, score: EpochScore, now: float) -> None:
        assert self.outcome.best_epoch is not None
        decision = decide_after_epoch(
            score.epoch, self.outcome.best_epoch, self.best_score, self.config.trial.patience,
            score.train_seconds or 0.0, epoch_time_limit(self.config), now - self.started,
            sum(self.epoch_seconds) / len(self.epoch_seconds), self.config.trial.timeout_s,
        )
        if not decision.carry_on:
            self.outcome.stop_reason = decision.reason
            if decision.timeout:
                self.stopped_for_time = decision.reason
            log.info("trial %s stops after epoch %d: %s", self.trial_dir, score.epoch, decision.reason)
        control.write_verdict(self.trial_dir, score.epoch, decision.carry_on, decision.reason)


def run_trial(
    model_path: Path,
    trial_dir: Path,
    prepared: PreparedData,
    config: RunConfig,
    prm: dict[str, Any],
    param_budget: int,
    on_epoch: Callable[[EpochScore], None] | None = None,
    seed: int | None = None,
    resume: bool = False,
    keep_resume_state: bool = False,
    gpu: str | None = None,
) -> TrialOutcome:
    """Train and score one model file under the run's protocol.

    `seed` seeds Python, NumPy, torch and the data order of this trial; None uses
    `config.trial.seed`. The val and test subsets depend on `config.trial.subset_seed`
    only, so every trial of a run is scored on the same images.

    With `resume`, an earlier run of the same trial in `trial_dir` that was interrupted
    continues after its last saved epoch: the journaled epoch scores are taken over
    (`on_epoch` is called once for each kept epoch) and the trial process loads its
    resume state. Without a usable journal or resume state the trial starts from epoch 1,
    with a warning. The
    resume state is deleted at the end unless `keep_resume_state`: a caller that resumes
    after a crash of its own keeps it until the outcome is stored, then calls
    `discard_resume_state`.

    `gpu` runs the trial on that one GPU, named as CUDA_VISIBLE_DEVICES names it. It is the
    only GPU visible to the trial process, as `cuda`. None leaves the device to `config.trial.device`.
    """
    check_trial_config(config)
    trial_dir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(trial_dir / control.CONTROL_DIR, ignore_errors=True)
    seed = config.trial.seed if seed is None else seed
    val_indices = subset_indices(prepared, "val", config.data.val_images, config.trial.subset_seed)
    test_indices = subset_indices(prepared, "test", config.data.test_images, config.trial.subset_seed)
    val_references = _subset_references(prepared, "val", val_indices)
    request = _train_request(model_path, prepared, config, prm, param_budget, seed, val_indices)
    outcome = TrialOutcome(Status.TRAINED, seed=seed)
    outcome.constant_val_bleu4 = constant_caption_bleu4(prepared.manifest, val_references, val_indices is None)
    state = _TrialState(outcome, trial_dir, config, val_references, on_epoch)
    journal_epochs = state.resume_from_journal() if resume else None
    if journal_epochs is None:
        journal.clear(trial_dir)
        discard_resume_state(trial_dir)
    else:
        request["resume_after"] = journal_epochs

    # NOTE: the wall-clock limit of the trial process restarts with each run of a trial. The parent's
    # projection after each epoch normally stops training first, and it counts the time spent before.
    limits = SandboxLimits(wall_seconds=config.trial.timeout_s, threads=config.trial.threads, cuda_visible_devices=gpu)
    if gpu is not None:
        request["device"] = "cuda"
    result = run_in_sandbox(CHILD_ENTRY, request, trial_dir, limits, state.on_record)
    outcome.seconds = state.spent_before + result.seconds
    _summarise_costs(outcome)
    if any(r["type"] == "result" for r in result.records):
        outcome.status, outcome.message = _health(outcome, state)
    else:
        outcome.status, outcome.message = _failure(result)
        if outcome.status == Status.TIMEOUT and outcome.epochs:
            outcome.message += f"; {len(outcome.epochs)} epoch(s) finished before"

    if outcome.best_epoch is not None and outcome.status in TEST_SCORED_STATUSES:
        test_references = _subset_references(prepared, "test", test_indices)
        if not _score_test(outcome, request, trial_dir, test_indices, test_references, limits):
            outcome.status, outcome.message = Status.TRAIN_ERROR, "test evaluation of the selected epoch failed"
    if not keep_resume_state:
        discard_resume_state(trial_dir)
    _prune_checkpoints(trial_dir, keep={outcome.best_epoch})
    return outcome


def discard_resume_state(trial_dir: Path) -> None:
    """Delete the resume state of a trial once its outcome is final. The epoch checkpoints stay."""
    for path in resume_state.state_files(trial_dir):
        path.unlink(missing_ok=True)


def check_trial_config(config: RunConfig) -> None:
    """Raise ConfigError when a `trial` setting is out of range, before any trial starts."""
    trial = config.trial
    if trial.decoding not in DECODING_METHODS:
        raise ConfigError(f"trial.decoding must be one of {', '.join(DECODING_METHODS)}, got {trial.decoding!r}")
    minimums = {"epochs": 1, "batch_size": 1, "beam_width": 1, "eval_batch_size": 1, "max_decode_len": 1,
                "threads": 1, "patience": 0, "epoch_time_limit_s": 0, "degenerate_floor": 0}
    for name, minimum in minimums.items():
        value = getattr(trial, name)
        if value < minimum:
            raise ConfigError(f"trial.{name} must be at least {minimum}, got {value}")
    if trial.timeout_s <= 0:
        raise ConfigError(f"trial.timeout_s must be positive, got {trial.timeout_s}")
    check_trial_values(trial)
    _check_device(trial.device)


def _check_device(device: str) -> None:
    """Reject a device this machine's torch cannot use, so candidates are not blamed for it."""
    import torch

    if device in ("auto", "cpu"):
        return
    if not device.startswith("cuda"):
        raise ConfigError(f"trial.device must be auto, cpu, cuda or cuda:N, got {device!r}")
    if not torch.cuda.is_available():
        raise ConfigError(f"trial.device={device} but this torch build sees no CUDA device; use auto or cpu")
    index = device.partition(":")[2]
    if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
        raise ConfigError(f"trial.device={device} names no visible GPU; {torch.cuda.device_count()} visible")


def _train_request(model_path: Path, prepared: PreparedData, config: RunConfig, prm: dict[str, Any],
                   param_budget: int, seed: int, val_indices: list[int] | None) -> dict[str, Any]:
    trial = config.trial
    return {
        "mode": "train", "model_path": str(Path(model_path).resolve()), "cache_dir": str(prepared.path),
        "image_size": prepared.manifest["image_size"], "vocab_size": prepared.vocab_size,
        "batch_size": trial.batch_size, "epochs": trial.epochs, "seed": seed, "threads": trial.threads,
        "max_decode_len": trial.max_decode_len, "decoding": trial.decoding, "beam_width": trial.beam_width,
        "eval_batch_size": trial.eval_batch_size, "score_own_inference": trial.score_own_inference,
        "device": trial.device, "epoch_time_limit_s": epoch_time_limit(config), "prm": prm,
        "param_budget": param_budget, "val_indices": val_indices,
    }


def _subset_references(prepared: PreparedData, split: str, indices: list[int] | None) -> dict[str, list[str]]:
    references = prepared.references(split)
    ids = prepared.image_ids(split)
    chosen = ids if indices is None else [ids[i] for i in indices]
    return {str(i): references[i] for i in chosen}


def _complete(hypotheses: dict[str, str], references: dict[str, list[str]]) -> dict[str, str]:
    """Hypotheses for exactly the referenced images; an image the child did not caption scores as empty."""
    chosen = {k: v for k, v in hypotheses.items() if k in references}
    chosen.update({k: "" for k in set(references) - set(chosen)})
    return chosen


def _score_own(own: dict[str, Any] | None, references: dict[str, list[str]]) -> tuple[dict[str, float] | None, str | None]:
    """Metrics of the model's own decoding, or the reason there are none."""
    if own is None:
        return None, "not run (trial.score_own_inference is off)"
    if "hypotheses" not in own:
        return None, str(own.get("error", "no hypotheses"))
    return evaluate(references, _complete(own["hypotheses"], references)), None


def _score_epoch(record: dict[str, Any], references: dict[str, list[str]]) -> tuple[EpochScore, dict[str, str]]:
    hypotheses = _complete(record["hypotheses"], references)
    own_metrics, own_error = _score_own(record.get("own"), references)
    score = EpochScore(int(record["epoch"]), record.get("train_loss"), evaluate(references, hypotheses),
                       record.get("train_seconds"), record.get("eval_seconds"), record.get("images_per_second"),
                       probe_loss=record.get("probe_loss"), val_metrics_own=own_metrics, own_error=own_error)
    return score, hypotheses


def _note_memory(outcome: TrialOutcome, record: dict[str, Any]) -> None:
    for name in ("peak_rss_bytes", "cuda_peak_bytes"):
        value = record.get(name)
        if value is not None:
            setattr(outcome, name, max(int(value), getattr(outcome, name) or 0))


def _summarise_costs(outcome: TrialOutcome) -> None:
    seconds = [e.train_seconds for e in outcome.epochs if e.train_seconds is not None]
    rates = [e.images_per_second for e in outcome.epochs if e.images_per_second is not None]
    outcome.seconds_per_epoch = sum(seconds) / len(seconds) if seconds else None
    outcome.images_per_second = sum(rates) / len(rates) if rates else None


def _failure(result: Any) -> tuple[Status, str]:
    errors = [r for r in result.records if r["type"] == "error" and r.get("status")]
    if errors and not result.timed_out:
        status = errors[-1]["status"]
        known = status in Status._value2member_map_
        return Status(status) if known else Status.TRAIN_ERROR, str(errors[-1].get("message", ""))
    return classify_failure(result)


def _health(outcome: TrialOutcome, state: _TrialState) -> tuple[Status, str]:
    """Status of a child that finished: timeout when it stopped for time, degenerate by the protocol's rules."""
    if outcome.best_epoch is None:
        return Status.TRAIN_ERROR, "no epoch finished"
    if state.stopped_for_time:
        return Status.TIMEOUT, state.stopped_for_time
    if not state.config.trial.degenerate_check:
        return Status.TRAINED, ""
    reason = degenerate_reason(state.best_hypotheses, state.best_score, outcome.best_epoch,
                               outcome.constant_val_bleu4, state.config.trial.degenerate_floor)
    if reason is not None:
        return Status.DEGENERATE, reason
    return Status.TRAINED, ""


def _score_test(outcome: TrialOutcome, request: dict[str, Any], trial_dir: Path, indices: list[int] | None,
                references: dict[str, list[str]], limits: SandboxLimits) -> bool:
    """Decode test with the val-selected checkpoint and score it: the only test scoring of the trial."""
    evaluate_request = dict(request, mode="evaluate", split="test", val_indices=None, test_indices=indices,
                            checkpoint=str((trial_dir / "checkpoints" / f"epoch_{outcome.best_epoch}.pt").resolve()))
    result = run_in_sandbox(CHILD_ENTRY, evaluate_request, trial_dir / "evaluate", limits)
    final = [r for r in result.records if r["type"] == "result"]
    if not final:
        log.warning("test evaluation failed in %s: %s", trial_dir, classify_failure(result)[1])
        return False
    hypotheses = _complete(final[-1]["hypotheses"], references)
    _write_results(trial_dir / "test_hypotheses.json", hypotheses)
    outcome.test_metrics = evaluate(references, hypotheses)
    outcome.test_metrics_own, outcome.test_own_error = _score_own(final[-1].get("own"), references)
    if outcome.test_metrics_own is not None:
        _write_results(trial_dir / "test_hypotheses_own.json", _complete(final[-1]["own"]["hypotheses"], references))
    return True


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
    if keep == {None} and not any(folder.iterdir()):
        folder.rmdir()
