"""The status of a candidate: one enum, stored for every candidate."""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    NO_CODE = "no_code"  # no Python module could be extracted from the reply
    SYNTAX_ERROR = "syntax_error"
    CONTRACT_VIOLATION = "contract_violation"  # the file breaks the Net API
    POLICY_VIOLATION = "policy_violation"  # banned import, call or runtime action
    DUPLICATE = "duplicate"  # structurally equal to an earlier candidate
    BUILD_ERROR = "build_error"  # Net(...) raised
    SMOKE_FAILED = "smoke_failed"  # a behavioural contract check failed
    TRAIN_ERROR = "train_error"  # an exception during training or evaluation
    DIVERGED = "diverged"  # non-finite loss, logits or parameters
    TIMEOUT = "timeout"
    OUT_OF_MEMORY = "out_of_memory"
    CRASHED = "crashed"  # the trial process died from a signal
    DEGENERATE = "degenerate"  # trained, but its captions are constant, empty or near-constant
    TRAINED = "trained"

    def __str__(self) -> str:
        return self.value
