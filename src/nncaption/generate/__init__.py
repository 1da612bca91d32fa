"""Generators: anything that proposes candidate model files."""

from nncaption.generate.base import GENERATORS, DataFacts, GenerationContext, Generator, Proposal

__all__ = ["GENERATORS", "DataFacts", "GenerationContext", "Generator", "Proposal", "load_generators"]


def load_generators() -> None:
    """Import every built-in generator module so that each registers itself in GENERATORS."""
    import nncaption.generate.composer  # noqa: F401
    import nncaption.generate.llm  # noqa: F401
