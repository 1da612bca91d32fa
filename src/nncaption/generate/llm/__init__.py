"""LLM generators: the `openai`, `hf` and `replay` backends behind one generator class.

Importing this package registers the three generator kinds in `nncaption.generate.GENERATORS`.
"""

from nncaption.generate.llm import generator as _generator  # noqa: F401  (registers the kinds)
from nncaption.generate.llm.backend import BACKENDS, LLMBackend, LLMReply, RequestKey
from nncaption.generate.llm.checks import check_generator_config
from nncaption.generate.llm.generator import LLMGenerator

__all__ = ["BACKENDS", "LLMBackend", "LLMGenerator", "LLMReply", "RequestKey", "check_generator_config"]
