"""The scheduler of a search: generation ahead of training, worker slots, repairs, baselines.

Two thread pools do the slow work: one calls the generator (`propose`, `repair`), the other
runs trials (each trial is a child process). The driver thread alone writes the store. It
keeps at most `search.workers + search.lookahead` proposals generated but not yet training,
so the LLM writes the next candidates while the workers train, and neither waits on the
other longer than it must.
"""

from __future__ import annotations

import json
import logging
import queue
import shutil
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncaption.generate import Proposal
from nncaption.generate.llm.cancel import cancel_requests
from nncaption.sandbox.runner import terminate_all
from nncaption.search.baselines import BaselineJobs
from nncaption.search.budget import Budget
from nncaption.search.candidates import (
    REPAIRABLE,
    code_path,
    outcome_columns,
    repair_feedback,
    static_verdict,
    stored_proposal,
    write_proposal_files,
)
from nncaption.search.gpu_slots import GpuSlots, spread_gpus
from nncaption.search.parse_lock import install_parse_lock
from nncaption.status import Status
from nncaption.trial.journal import journaled_epochs
from nncaption.trial.runner import EpochScore, TrialOutcome, discard_resume_state, run_trial

if TYPE_CHECKING:
    from nncaption.search.loop import SearchEvents, SearchRun

log = logging.getLogger(__name__)

# Candidate states before a final status: stored but not trained, training, waiting for an LLM repair.
PENDING, RUNNING, REPAIRING = "pending", "running", "repairing"
UNFINISHED = (PENDING, RUNNING, REPAIRING)


class Driver:
    """Runs one search to the end of its budget; see the module docstring."""

    def __init__(self, run: SearchRun, events: SearchEvents | None) -> None:
        self.run = run
        self.events = events
        self.store = run.store
        self.config = run.config.search
        self.budget = Budget(self.config, self.store)
        self.workers = max(1, self.config.workers)
        self.epoch_queue: queue.Queue[tuple[int, EpochScore]] = queue.Queue()

        self.ready: deque[int] = deque()  # candidates validated and waiting for a worker slot
        self.generated: dict[int, Proposal] = {}  # proposals that came back out of index order
        self.next_index = 0  # next candidate index to request from the generator
        self.next_store = 0  # next candidate index to store (proposals are stored in index order)
        self.generating: dict[Future[Any], tuple[str, int, int]] = {}  # (kind, candidate, attempt)
        self.training: dict[Future[TrialOutcome], tuple[str, Any, int]] = {}  # (kind, candidate or name, attempt)
        self.baselines = BaselineJobs(run) if self.config.baselines else None
        self.gpus = GpuSlots(spread_gpus(run.config.trial.device))  # empty unless trials spread over GPUs

    # --- resume --------------------------------------------------------------------------

    def resume(self) -> None:
        """Queue the work an earlier, interrupted run left: untrained, interrupted and repairing candidates."""
        rows = {row["id"]: row for row in self.store.candidates()}
        while self.next_index in rows:
            self.next_index += 1
        self.next_store = self.next_index
        for candidate_id, row in sorted(rows.items()):
            if candidate_id >= self.config.candidates:
                # search.candidates was lowered on resume: unfinished ones past it wait for a larger budget.
                continue
            if row["status"] == PENDING:
                # The kill may have come between storing the proposal and checking it, so check it again.
                attempt = int(row["attempt"])
                source = code_path(self.run.candidate_dir(candidate_id), attempt).read_text(encoding="utf-8")
                self._check_and_queue(candidate_id, attempt, source)
            elif row["status"] == RUNNING:
                self.ready.append(candidate_id)
            elif row["status"] == REPAIRING:
                attempt = self.store.attempts(candidate_id)[-1]
                self._submit_repair(candidate_id, int(row["attempt"]) + 1, attempt["feedback"] or attempt["message"])
        if self.ready:
            log.info("resuming: %d stored candidates still to train", len(self.ready))

    # --- the loop ------------------------------------------------------------------------

    def run_to_end(self) -> None:
        install_parse_lock()
        threads = max(1, self.run.generator_threads)
        with ThreadPoolExecutor(threads, thread_name_prefix="generate") as self.generate_pool, \
                ThreadPoolExecutor(self.workers, thread_name_prefix="trial") as self.trial_pool:
            self.resume()
            try:
                self._loop()
            except KeyboardInterrupt:
                # The pools' shutdown waits for their threads, so LLM requests (hf generation
                # included) and running trials are ended first. Their candidates stay `running`
                # and a rerun resumes their trials.
                cancel_requests()
                ended = terminate_all()
                log.warning("interrupted: ended %d running trial(s); rerun the command to resume", ended)
                self.generate_pool.shutdown(wait=False, cancel_futures=True)
                self.trial_pool.shutdown(wait=False, cancel_futures=True)
                raise
            self._drain_epochs()
        self.budget.save_elapsed()
        if self.budget.reason:
            log.info("search stopped: %s", self.budget.reason)

    def _loop(self) -> None:
        while True:
            self._fill_generation()
            self._fill_workers()
            if not self.generating and not self.training:
                return
            done, _ = wait([*self.generating, *self.training], timeout=0.2, return_when=FIRST_COMPLETED)
            self._drain_epochs()
            for future in done:
                if future in self.generating:
                    self._generation_done(future, *self.generating.pop(future))
                else:
                    self._trial_done(future, *self.training.pop(future))
            self.budget.save_elapsed(every=5.0)

    def _fill_generation(self) -> None:
        """Request proposals while the look-ahead window and the budget allow."""
        while self.next_index < self.config.candidates:
            # Proposals generated or in flight that no worker has taken yet; lookahead 0 with one
            # worker gives the sequential generate-then-train loop.
            waiting = len(self.ready) + len(self.generated) + sum(1 for k, _, _ in self.generating.values() if k == "propose")
            if waiting >= max(0, self.config.lookahead) + self.workers - len(self.training) or not self.budget.may_generate():
                return
            index = self.next_index
            self.next_index += 1
            self.generating[self.generate_pool.submit(self.run.generator.propose, index)] = ("propose", index, 0)

    def _fill_workers(self) -> None:
        while len(self.training) < self.workers and self.ready:
            if not self.budget.may_train():
                return
            self._start_trial(self.ready.popleft())
        generation_over = self.next_index >= self.config.candidates or not self.budget.may_generate()
        if self.baselines is not None and generation_over and not self.ready and not self.generating:
            while len(self.training) < self.workers and self.budget.time_left():
                job = self.baselines.next_job(self.epoch_queue, run_trial)
                if job is None:
                    return
                self.training[self._submit_trial(*job.call)] = ("baseline", job.name, 0)

    # --- proposals and repairs -----------------------------------------------------------

    def _generation_done(self, future: Future[Any], kind: str, candidate_id: int, attempt: int) -> None:
        proposal = future.result()  # an infrastructure failure (LLM unreachable) raises here
        if kind == "propose":
            self.generated[candidate_id] = proposal
            while self.next_store in self.generated:
                self._store_proposal(self.next_store, self.generated.pop(self.next_store))
                self.next_store += 1
        elif proposal is None:
            self._give_up_repair(candidate_id)
        else:
            self._store_repair(candidate_id, attempt, proposal)

    def _store_proposal(self, candidate_id: int, proposal: Proposal) -> None:
        folder = self.run.candidate_dir(candidate_id)
        sha, structure = write_proposal_files(folder, proposal, 0)
        meta = dict(proposal.meta, extraction=proposal.extraction)
        status = PENDING if proposal.status is None else str(proposal.status)
        self.store.add_proposal(candidate_id, self.run.generator.kind, meta, sha, structure, proposal.llm_calls,
                                proposal.repairs, status, proposal.message)
        self.budget.count_tokens(candidate_id)
        if proposal.status is not None:
            self._announce(candidate_id, proposal.status, proposal.message, 0.0)
            return
        self._check_and_queue(candidate_id, 0, proposal.source or "")

    def _store_repair(self, candidate_id: int, attempt: int, proposal: Proposal) -> None:
        folder = self.run.candidate_dir(candidate_id)
        sha, structure = write_proposal_files(folder, proposal, attempt)
        previous = self.store.attempts(candidate_id)[-1]
        self.store.add_attempt(candidate_id, attempt, previous["feedback"] or "", sha, structure, proposal.llm_calls,
                               proposal.repairs)
        self.budget.count_tokens(candidate_id)
        if sha is not None and sha == previous["source_sha256"]:
            # Training the same bytes again would only repeat the failure.
            message = f"{previous['message'] or ''} (runtime repair round {attempt} returned the same code)".lstrip()
            self._finish(candidate_id, attempt, Status(previous["status"]), message, previous["seconds"] or 0.0)
            return
        log.info("candidate %d: runtime repair round %d returned new code", candidate_id, attempt)
        self._check_and_queue(candidate_id, attempt, proposal.source or "")

    def _check_and_queue(self, candidate_id: int, attempt: int, source: str) -> None:
        verdict = static_verdict(self.store, candidate_id, source)
        if verdict is not None:
            self._finish(candidate_id, attempt, *verdict)
        else:
            self.ready.append(candidate_id)

    def _submit_repair(self, candidate_id: int, attempt: int, feedback: str) -> None:
        source = code_path(self.run.candidate_dir(candidate_id), attempt - 1).read_text(encoding="utf-8")
        proposal = stored_proposal(self.store, candidate_id, source)
        future = self.generate_pool.submit(self.run.generator.repair, proposal, feedback, attempt)
        self.generating[future] = ("repair", candidate_id, attempt)

    def _give_up_repair(self, candidate_id: int) -> None:
        """No new code came back: the candidate ends with its last trial's status."""
        last = self.store.attempts(candidate_id)[-1]
        self._finish(candidate_id, int(last["attempt"]), Status(last["status"]), last["message"], last["seconds"] or 0.0)

    # --- trials --------------------------------------------------------------------------

    def _start_trial(self, candidate_id: int) -> None:
        row = self.store.candidate(candidate_id)
        attempt = int(row["attempt"])
        folder = self.run.candidate_dir(candidate_id)
        trial_dir = trial_dir_of(folder, attempt)
        meta = json.loads(row["meta_json"])

        # A candidate still `running` was interrupted in an earlier run: its trial resumes after
        # the last journaled epoch, whose rows stay. A trial that never started begins clean.
        resume = row["status"] == RUNNING
        if resume:
            self.store.drop_epochs_after(candidate_id, journaled_epochs(trial_dir))
        else:
            self.store.clear_epochs(candidate_id)
            shutil.rmtree(trial_dir, ignore_errors=True)
        self.store.update_candidate(candidate_id, status=RUNNING)
        self.store.set_attempt_status(candidate_id, attempt, RUNNING)
        if self.events is not None:
            self.events.candidate_started(candidate_id, _summary(meta))

        def on_epoch(score: EpochScore) -> None:
            self.epoch_queue.put((candidate_id, score))

        future = self._submit_trial(run_trial, code_path(folder, attempt), trial_dir, self.run.prepared,
                                    self.run.config, meta.get("prm", {}), self.run.param_budget, on_epoch,
                                    resume=resume, keep_resume_state=True)
        self.training[future] = ("candidate", candidate_id, attempt)

    def _submit_trial(self, trial: Any, *args: Any, **kwargs: Any) -> Future[TrialOutcome]:
        """Submit a run_trial call to the worker pool, on the least-loaded GPU when trials spread over GPUs."""
        if not self.gpus:
            return self.trial_pool.submit(trial, *args, **kwargs)
        gpu = self.gpus.acquire()
        future = self.trial_pool.submit(trial, *args, gpu=gpu, **kwargs)
        future.add_done_callback(lambda _: self.gpus.release(gpu))
        return future

    def _trial_done(self, future: Future[TrialOutcome], kind: str, key: Any, attempt: int) -> None:
        outcome = future.result()
        self._drain_epochs()
        if kind == "baseline":
            assert self.baselines is not None
            self.baselines.record(key, outcome)
            return
        candidate_id = int(key)
        # A trial that fell back to a fresh start may have stopped short of rows kept from its interrupted run.
        self.store.drop_epochs_after(candidate_id, max((e.epoch for e in outcome.epochs), default=0))
        self._record_outcome(candidate_id, attempt, outcome)
        discard_resume_state(trial_dir_of(self.run.candidate_dir(candidate_id), attempt))

    def _record_outcome(self, candidate_id: int, attempt: int, outcome: TrialOutcome) -> None:
        if outcome.status in REPAIRABLE and self.budget.may_generate():
            feedback = repair_feedback(outcome)
            self.store.record_trial(candidate_id, attempt, dict(outcome_columns(outcome), status=REPAIRING))
            self.store.set_attempt_status(candidate_id, attempt, str(outcome.status), outcome.message, outcome.seconds, feedback)
            self._submit_repair(candidate_id, attempt + 1, feedback)
            return
        self.store.record_trial(candidate_id, attempt, outcome_columns(outcome))
        self._announce(candidate_id, outcome.status, outcome.message, outcome.seconds)

    def _drain_epochs(self) -> None:
        while True:
            try:
                candidate_id, score = self.epoch_queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(candidate_id, str):
                self.store.add_baseline_epoch(candidate_id, score.epoch, score.train_loss, score.val_metrics)
                continue
            self.store.add_epoch(candidate_id, score.epoch, score.train_loss, score.val_metrics,
                                 score.train_seconds, score.eval_seconds, score.images_per_second)
            if self.events is not None:
                self.events.epoch_scored(candidate_id, score)

    # --- endings -------------------------------------------------------------------------

    def _finish(self, candidate_id: int, attempt: int, status: Status, message: str, seconds: float = 0.0) -> None:
        """Store a final status that no trial produced (static checks, duplicates, given-up repairs)."""
        self.store.set_attempt_status(candidate_id, attempt, str(status), message)
        self.store.update_candidate(candidate_id, status=str(status), message=message, finished_at=time.time())
        self._announce(candidate_id, status, message, seconds)

    def _announce(self, candidate_id: int, status: Status, message: str, seconds: float) -> None:
        row = self.store.candidate(candidate_id)
        log.info("candidate %d: %s%s (val BLEU-4 %s, %.0f s)", candidate_id, status, f": {message}" if message else "",
                 "-" if row["val_bleu4"] is None else f"{row['val_bleu4']:.3f}", seconds)
        if self.events is not None:
            self.events.candidate_finished(candidate_id, str(status), message, row["val_bleu4"], seconds)


def _summary(meta: dict[str, Any]) -> str:
    design = meta.get("design")
    if design:
        return f"{design['backbone']} {design['features']} -> {design['decoder']}"
    return str(meta.get("base_model", meta.get("generator", "")))


def trial_dir_of(candidate_dir: Path, attempt: int) -> Path:
    """Return the trial folder of one attempt of a candidate."""
    return candidate_dir / "trial" if attempt == 0 else candidate_dir / f"attempt_{attempt}" / "trial"
