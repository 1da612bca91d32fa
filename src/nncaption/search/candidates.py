"""Per-candidate steps of the run loop that touch files and the store.

Every function here runs on the driver thread, which alone writes the store. Files are
written before the store transaction that refers to them, so a kill between the two leaves
at worst an unreferenced file that the next run overwrites.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from nncaption.codegen.validate import status_for, validate_source
from nncaption.generate import Proposal
from nncaption.search.structure import structure_hash
from nncaption.status import Status
from nncaption.store import Store
from nncaption.trial.runner import TrialOutcome

log = logging.getLogger(__name__)

# Trial statuses after which an LLM generator gets a runtime repair round.
REPAIRABLE = (Status.BUILD_ERROR, Status.SMOKE_FAILED)

# TrialOutcome fields stored in their own columns; any other scalar field is a cost figure.
_OUTCOME_COLUMNS = {"status", "message", "parameters", "prm", "checks", "epochs", "best_epoch", "test_metrics", "seconds"}


def code_path(candidate_dir: Path, attempt: int) -> Path:
    """Return the model file of one attempt: `model.py` for the proposal, `attempt_<n>/model.py` after a repair."""
    return candidate_dir / "model.py" if attempt == 0 else candidate_dir / f"attempt_{attempt}" / "model.py"


def write_proposal_files(folder: Path, proposal: Proposal, attempt: int) -> tuple[str | None, str | None]:
    """Write the proposal's artifacts and code; return the code's SHA-256 and structural hash."""
    target = folder if attempt == 0 else folder / f"attempt_{attempt}"
    target.mkdir(parents=True, exist_ok=True)
    for name, text in proposal.artifacts.items():
        (target / Path(name).name).write_text(text, encoding="utf-8")
    if proposal.source is None:
        return None, None
    code_path(folder, attempt).write_text(proposal.source, encoding="utf-8")
    return hashlib.sha256(proposal.source.encode("utf-8")).hexdigest(), structure_hash(proposal.source)


def static_verdict(store: Store, candidate_id: int, source: str) -> tuple[Status, str] | None:
    """Validate `source` and look for an earlier equal structure; return the final status, or None to train."""
    try:
        violations = validate_source(source, "model.py")
    except Exception as exc:  # noqa: BLE001 - a validator failure ends this candidate, not the run
        log.warning("candidate %d: the validator failed on its code", candidate_id, exc_info=True)
        return Status.CONTRACT_VIOLATION, f"the validator could not analyse the file ({type(exc).__name__}: {exc})"
    store.update_candidate(candidate_id, violations_json=[v.to_dict() for v in violations])
    status = status_for(violations)
    if status is not None:
        first = next(v for v in violations if v.severity == "error")
        return status, f"line {first.line}: [{first.rule}] {first.message}"

    row = store.candidate(candidate_id)
    if row["structure_hash"] is not None:
        original = store.first_with_structure(row["structure_hash"], candidate_id)
        if original is not None:
            store.update_candidate(candidate_id, duplicate_of=original)
            return Status.DUPLICATE, f"same structure as candidate {original}"
    return None


def stored_proposal(store: Store, candidate_id: int, source: str) -> Proposal:
    """Rebuild the current Proposal of a candidate from the store, for a runtime repair round."""
    row = store.candidate(candidate_id)
    meta = json.loads(row["meta_json"])
    extraction = meta.pop("extraction", {}) or {}
    return Proposal(
        source=source,
        meta=meta,
        extraction=extraction,
        repairs=[json.loads(r["repair_json"]) for r in store.repairs(candidate_id)],
        llm_calls=[json.loads(r["call_json"]) for r in store.llm_calls(candidate_id)],
    )


def repair_feedback(outcome: TrialOutcome) -> str:
    """Describe a failed trial for the LLM: the status, the message and the failed behavioural check."""
    lines = [f"The trial ended with status {outcome.status}: {outcome.message}".rstrip(": ")]
    for check in outcome.checks:
        if not check.get("passed", True) and check.get("severity", "error") == "error":
            detail = check.get("message", "")
            # The trial message often quotes the failed check; the LLM needs the text only once.
            if detail and detail in outcome.message:
                detail = "see the message above"
            lines.append(f"Failed behavioural check `{check.get('name')}`: {detail}")
    return "\n".join(lines)


def cost_figures(outcome: TrialOutcome) -> dict[str, Any]:
    """Return the outcome's scalar fields beyond the stored columns (FLOPs, peak memory, ...)."""
    names = [f.name for f in dataclasses.fields(outcome)] if dataclasses.is_dataclass(outcome) else []
    costs = {}
    for name in names:
        value = getattr(outcome, name, None)
        if name not in _OUTCOME_COLUMNS and isinstance(value, (int, float, str)) and not isinstance(value, bool):
            costs[name] = value
    return costs


def outcome_columns(outcome: TrialOutcome) -> dict[str, Any]:
    """Map a trial outcome to the candidate columns of the store."""
    best = outcome.best
    return {
        "status": str(outcome.status),
        "message": outcome.message,
        "parameters": outcome.parameters,
        "prm_json": outcome.prm,
        "checks_json": outcome.checks,
        "best_epoch": outcome.best_epoch,
        "val_metrics_json": best.val_metrics if best else None,
        "val_bleu4": best.val_metrics.get("Bleu_4") if best else None,
        "test_metrics_json": outcome.test_metrics,
        "test_bleu4": (outcome.test_metrics or {}).get("Bleu_4"),
        "seconds": outcome.seconds,
        "costs_json": cost_figures(outcome),
    }
