"""The LLM generator: prompt, reply, extraction, recorded repair, validation, repair rounds.

One class serves the three backends (`openai`, `hf`, `replay`); the factories registered here
differ only in the backend they build. `propose` runs the static repair rounds itself: while
the validator reports errors and `generator.repair_rounds` allows, the code and its violations
go back to the LLM. `repair` is the runtime round that the search loop calls after a trial
failed to build or failed the behavioural test.
"""

from __future__ import annotations

import copy
import logging
import random
from dataclasses import dataclass, field
from typing import Any

from nncaption.codegen.extract import Extraction, extract_code
from nncaption.codegen.repair import repair_source, sha256_text
from nncaption.config import GeneratorConfig
from nncaption.generate.base import GenerationContext, Proposal, register_generator
from nncaption.generate.llm.backend import BACKENDS, LLMBackend, Message
from nncaption.generate.llm.checks import check_generator_config
from nncaption.generate.llm.conversation import CallRecorder, Exchange, converse
from nncaption.generate.llm.replay_backend import ReplayMissingError
from nncaption.generate.prompt import build_prompt, build_repair_prompt
from nncaption.status import Status

logger = logging.getLogger(__name__)

# Violations listed in one repair prompt; the rest are counted.
_MAX_FEEDBACK_VIOLATIONS = 20


@dataclass
class Attempt:
    """The code obtained from one exchange, after extraction and static repair."""

    exchange: Exchange
    extraction: Extraction
    source: str | None = None
    repairs: list[dict[str, Any]] = field(default_factory=list)
    violations: list[Any] = field(default_factory=list)
    status: Status | None = None


def _validate(source: str) -> tuple[list[Any], Status | None]:
    from nncaption.codegen.validate import status_for, validate_source

    violations = validate_source(source)
    return violations, status_for(violations)


def _format_violations(violations: list[Any]) -> str:
    """Render validator violations as a Markdown list for a repair prompt and a message."""
    errors = [v for v in violations if v.severity == "error"] or list(violations)
    lines = [f"- line {v.line}: [{v.rule}] {v.message}" + (f" Hint: {v.hint}" if v.hint else "") for v in errors[:_MAX_FEEDBACK_VIOLATIONS]]
    if len(errors) > _MAX_FEEDBACK_VIOLATIONS:
        lines.append(f"- ... and {len(errors) - _MAX_FEEDBACK_VIOLATIONS} more")
    return "\n".join(lines)


class LLMGenerator:
    """Proposes candidates by prompting an LLM backend; see the module docstring."""

    def __init__(self, config: GeneratorConfig, context: GenerationContext, backend: LLMBackend) -> None:
        check_generator_config(config, context.zoo_dirs)
        self.kind = config.kind
        self._config = config
        self._context = context
        self._backend = backend
        self._recorder = CallRecorder(config.record_file)

    def _obtain(self, messages: list[Message], candidate: int, first_call: int, purpose: str) -> Attempt:
        """Send one prompt, extract the code, apply the static repairs and validate."""
        exchange = converse(
            self._backend, self._config, messages,
            candidate=candidate, first_call=first_call, purpose=purpose, recorder=self._recorder,
        )
        extraction = extract_code(exchange.reply, exchange.reasoning, exchange.finish_reason)
        attempt = Attempt(exchange, extraction)
        if extraction.code is None:
            attempt.status = Status.NO_CODE
            return attempt

        source, records = repair_source(extraction.code)
        attempt.source = source
        attempt.repairs = [{"stage": purpose, **r.to_dict()} for r in records]
        attempt.violations, attempt.status = _validate(source)
        return attempt

    def propose(self, index: int) -> Proposal:
        """Prompt the LLM for candidate `index`, then run up to `repair_rounds` static repair rounds."""
        rng = random.Random(f"{self._context.seed}:{self._config.seed}:{index}")
        prompt = build_prompt(self._config, self._context, rng)
        meta = {
            "generator": self.kind,
            "candidate": index,
            "template": prompt.template,
            "k": prompt.k,  # the snippets this prompt holds; fewer than generator.k when the zoo has fewer
            "k_requested": self._config.k,
            "snippets": prompt.snippets,
            "base_model": prompt.base_model,
            "base_family": prompt.base_family,
            "llm_model": self._backend.model,
            "temperature": self._config.temperature,
            "top_p": self._config.top_p,
            "max_tokens": self._config.max_tokens,
            "on_length": self._config.on_length,
        }
        proposal = Proposal(source=None, meta=meta, artifacts={"prompt.md": prompt.markdown()})

        attempt = self._obtain(prompt.messages, index, 0, "propose")
        self._absorb(proposal, attempt, prefix="")
        for round_number in range(1, self._config.repair_rounds + 1):
            if attempt.status in (None, Status.NO_CODE) or attempt.source is None:
                break
            feedback = _format_violations(attempt.violations)
            attempt = self._repair_round(proposal, attempt.source, feedback, "static validation", f"repair_{round_number}")
            if attempt is None:
                break
        logger.debug("candidate %d proposed: status %s", index, proposal.status)
        return proposal

    def _repair_round(self, proposal: Proposal, code: str, feedback: str, stage: str, label: str) -> Attempt | None:
        """Send `code` and `feedback` back to the LLM; record the round as `label` and update `proposal`."""
        prompt = build_repair_prompt(self._config, code, feedback, stage)
        index = int(proposal.meta["candidate"])
        prefix = f"{label}_"
        proposal.artifacts[f"{prefix}prompt.md"] = prompt.markdown()
        try:
            attempt = self._obtain(prompt.messages, index, len(proposal.llm_calls), label)
        except ReplayMissingError as exc:
            logger.info("candidate %d: no recorded reply for %s: %s", index, label, exc)
            return None

        before = sha256_text(code)
        proposal.repairs.append(
            {
                "stage": label,
                "name": "llm_repair_round",
                "reason": f"{stage} failed: {feedback.splitlines()[0].removeprefix('- ') if feedback else ''}",
                "feedback": feedback,
                "before_sha256": before,
                "after_sha256": sha256_text(attempt.source) if attempt.source is not None else None,
                "outcome": str(attempt.status) if attempt.status is not None else "valid",
                "extraction": attempt.extraction.method or attempt.extraction.reason,
            }
        )
        if attempt.source is None:
            # The repair reply held no code: keep the previous code and its verdict.
            proposal.llm_calls.extend(attempt.exchange.calls)
            proposal.artifacts[f"{prefix}reply.md"] = attempt.exchange.reply
            proposal.extraction.setdefault("repair_rounds", []).append(attempt.extraction.to_dict())
            return None
        self._absorb(proposal, attempt, prefix=prefix)
        return attempt

    def _absorb(self, proposal: Proposal, attempt: Attempt, prefix: str) -> None:
        """Make `attempt` the proposal's current code and add its calls, repairs and artifacts."""
        exchange = attempt.exchange
        proposal.llm_calls.extend(exchange.calls)
        proposal.repairs.extend(attempt.repairs)
        proposal.artifacts[f"{prefix}reply.md"] = exchange.reply
        if exchange.reasoning:
            proposal.artifacts[f"{prefix}reasoning.md"] = exchange.reasoning
        if not prefix:
            proposal.extraction = attempt.extraction.to_dict()
        else:
            proposal.extraction.setdefault("repair_rounds", []).append(attempt.extraction.to_dict())

        if attempt.extraction.code is not None:
            proposal.artifacts[f"{prefix}extracted.py"] = attempt.extraction.code
        if attempt.source is not None and attempt.repairs:
            proposal.artifacts[f"{prefix}repaired.py"] = attempt.source
        proposal.source = attempt.source
        proposal.status = attempt.status
        if attempt.status is Status.NO_CODE:
            proposal.message = attempt.extraction.reason
        elif attempt.status is not None:
            proposal.message = _format_violations(attempt.violations).splitlines()[0].removeprefix("- ")
        else:
            proposal.message = ""

    def repair(self, proposal: Proposal, feedback: str, attempt: int) -> Proposal | None:
        """Send the trial's failure back to the LLM; None when out of rounds or no code came back."""
        if proposal.source is None or attempt > self._config.repair_rounds:
            return None
        revised = Proposal(
            source=proposal.source,
            meta={**proposal.meta, "runtime_repair": attempt},
            artifacts={},
            extraction=copy.deepcopy(proposal.extraction),
            repairs=list(proposal.repairs),
            llm_calls=list(proposal.llm_calls),
        )
        outcome = self._repair_round(revised, proposal.source, feedback, "the behavioural test", f"runtime_repair_{attempt}")
        return revised if outcome is not None else None


def _make(config: GeneratorConfig, context: GenerationContext) -> LLMGenerator:
    import nncaption.generate.llm.hf_backend  # noqa: F401  (each module registers its backend)
    import nncaption.generate.llm.openai_backend  # noqa: F401
    import nncaption.generate.llm.replay_backend  # noqa: F401

    return LLMGenerator(config, context, BACKENDS[config.kind](config))


for _kind in ("openai", "hf", "replay"):
    register_generator(_kind)(_make)
