"""The run's budget: candidates, trials, wall-clock seconds and LLM tokens, whichever ends first."""

from __future__ import annotations

import time

from nncaption.config import SearchConfig
from nncaption.store import Store


class Budget:
    """Tracks what a run has used; the wall clock sums the time of every run of the same directory."""

    def __init__(self, config: SearchConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.elapsed_before = float(store.get_meta("elapsed_s", 0.0))
        self.started = time.monotonic()
        self.saved = self.started  # when elapsed_s was last stored
        self.reason: str | None = None  # why the budget ended, once it has
        # Tokens per candidate, refreshed after each store of LLM calls, so the check parses no JSON.
        self.tokens: dict[int, int] = {}
        if config.max_llm_tokens > 0:
            self.tokens = {row["id"]: store.llm_tokens(row["id"]) for row in store.candidates()}

    def count_tokens(self, candidate_id: int) -> None:
        """Recount the stored LLM tokens of one candidate after its calls were stored."""
        if self.config.max_llm_tokens > 0:
            self.tokens[candidate_id] = self.store.llm_tokens(candidate_id)

    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.started

    def save_elapsed(self, every: float = 0.0) -> None:
        """Store the elapsed wall-clock time, at most once per `every` seconds."""
        if time.monotonic() - self.saved < every:
            return
        self.saved = time.monotonic()
        self.store.set_meta("elapsed_s", self.elapsed())

    def time_left(self) -> bool:
        if self.config.max_seconds > 0 and self.elapsed() >= self.config.max_seconds:
            self.reason = self.reason or f"wall-clock budget of {self.config.max_seconds:.0f} s used"
            return False
        return True

    def may_generate(self) -> bool:
        """Return whether one more LLM request or proposal fits the token and time budgets."""
        if not self.time_left():
            return False
        if self.config.max_llm_tokens > 0 and sum(self.tokens.values()) >= self.config.max_llm_tokens:
            self.reason = self.reason or f"LLM token budget of {self.config.max_llm_tokens} used"
            return False
        return True

    def may_train(self) -> bool:
        """Return whether one more trial fits the trial and time budgets."""
        if not self.time_left():
            return False
        if self.config.max_trials > 0 and self.store.trials_started() >= self.config.max_trials:
            self.reason = self.reason or f"trial budget of {self.config.max_trials} used"
            return False
        return True
