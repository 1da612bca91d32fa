"""nncaption: LLM-guided neural architecture search for image captioning."""

__version__ = "0.1.0"
