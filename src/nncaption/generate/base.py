"""The generator protocol: anything that proposes candidate model files.

A generator returns a Proposal per call. Failure to produce code is data (a status on
the proposal), not an exception; infrastructure failures (an unreachable LLM server
after all retries) raise NncaptionError.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from nncaption.config import GeneratorConfig
from nncaption.status import Status


@dataclass(frozen=True)
class DataFacts:
    """Facts about the training data that a generator may put in its prompt or design."""

    image_size: int
    vocab_size: int
    max_len: int  # caption tokens, <SOS> and <EOS> excluded
    references_per_image: int


@dataclass(frozen=True)
class GenerationContext:
    facts: DataFacts
    param_budget: int  # maximum parameter count of a candidate
    seed: int
    zoo_dirs: tuple[str, ...] = ()  # user folders added to the zoo registry


@dataclass
class Proposal:
    """One candidate as the generator produced it."""

    source: str | None  # the model file; None when no code could be obtained
    meta: dict[str, Any] = field(default_factory=dict)  # generator settings, stored with the candidate
    status: Status | None = None  # set when the generator has already found that the candidate failed
    message: str = ""
    artifacts: dict[str, str] = field(default_factory=dict)  # file name -> text, kept in the candidate folder
    extraction: dict[str, Any] = field(default_factory=dict)  # how the code was found in the reply
    repairs: list[dict[str, Any]] = field(default_factory=list)  # name, reason, before/after hashes
    llm_calls: list[dict[str, Any]] = field(default_factory=list)  # one per request: prompt, reply, tokens, latency


class Generator(Protocol):
    kind: str

    def propose(self, index: int) -> Proposal:
        """Produce candidate number `index` of the run (deterministic for the run's seed and index)."""
        ...

    def repair(self, proposal: Proposal, feedback: str, attempt: int) -> Proposal | None:
        """Return a revised proposal given the trial's failure `feedback`, or None to give up."""
        ...


GeneratorFactory = Callable[[GeneratorConfig, GenerationContext], Generator]
GENERATORS: dict[str, GeneratorFactory] = {}


def register_generator(kind: str) -> Callable[[GeneratorFactory], GeneratorFactory]:
    def decorate(factory: GeneratorFactory) -> GeneratorFactory:
        GENERATORS[kind] = factory
        return factory

    return decorate
