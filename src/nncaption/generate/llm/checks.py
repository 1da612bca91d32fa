"""Checks of the LLM generator settings, run when the config is loaded and before any data work.

`check_generator_config` raises ConfigError on the first value an LLM generator cannot use.
Such values are sampling settings out of range, a template that does not load, a `base_model`
that is not a zoo captioner, more backbone snippets (`k`) than the zoo holds, and a missing
replay file or model directory.
For `generator.kind=composer` it checks nothing; the composer reads none of these keys.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nncaption.config import GeneratorConfig
from nncaption.errors import ConfigError

LLM_KINDS = ("openai", "hf", "replay")


def check_generator_config(config: GeneratorConfig, zoo_dirs: Sequence[str | Path] = ()) -> None:
    """Raise ConfigError when an LLM generator setting is out of range or names nothing usable.

    `zoo_dirs` are the extra zoo folders (`zoo.extra_dirs`); their captioners and backbones count.
    """
    if config.kind not in LLM_KINDS:
        return
    from nncaption.generate.llm.conversation import check_on_length
    from nncaption.generate.prompt import check_templates

    _check_sampling(config)
    _check_sizes(config)
    check_on_length(config)
    if config.kind == "openai":
        _check_connection(config)
    elif config.kind == "replay" and not config.replay_file:
        raise ConfigError("generator.kind=replay needs generator.replay_file=PATH to a JSONL file of replies")
    elif config.kind == "hf" and not config.hf_model_dir:
        raise ConfigError("generator.kind=hf needs generator.hf_model_dir=PATH to a local transformers model")
    check_templates(config)
    if config.base_model:
        base_captioner(config.base_model, zoo_dirs)
    _check_k(config, zoo_dirs)


def _check_sampling(config: GeneratorConfig) -> None:
    if not _finite(config.temperature) or config.temperature < 0:
        raise ConfigError(
            f"generator.temperature must be a number >= 0 (0 means greedy decoding), got {config.temperature}"
        )
    if not _finite(config.top_p) or not 0 < config.top_p <= 1:
        raise ConfigError(f"generator.top_p must be in (0, 1] (1 keeps every token), got {config.top_p}")


def _check_sizes(config: GeneratorConfig) -> None:
    at_least = {"max_tokens": 1, "snippet_chars": 1, "k": 0, "repair_rounds": 0}
    for name, minimum in at_least.items():
        value = getattr(config, name)
        if value < minimum:
            raise ConfigError(f"generator.{name} must be at least {minimum}, got {value}")
    # Checked whatever on_length is, so that a bad value fails now and not after a later switch to retry.
    if not _finite(config.length_retry_factor) or config.length_retry_factor <= 1:
        raise ConfigError(
            "generator.length_retry_factor must be a number greater than 1 (the max_tokens multiplier "
            f"when on_length=retry), got {config.length_retry_factor}"
        )


def _check_connection(config: GeneratorConfig) -> None:
    if not config.base_url.startswith(("http://", "https://")):
        raise ConfigError(f"generator.base_url must start with http:// or https://, got {config.base_url!r}")
    if not config.model:
        raise ConfigError("generator.model is empty; set it to the model name the server serves")
    if config.concurrency < 1 or config.retries < 0:
        raise ConfigError(
            f"generator.concurrency must be at least 1 and generator.retries at least 0, "
            f"got {config.concurrency} and {config.retries}"
        )
    if not _finite(config.request_timeout_s) or config.request_timeout_s <= 0:
        raise ConfigError(f"generator.request_timeout_s must be a positive number of seconds, got {config.request_timeout_s}")
    if not _finite(config.backoff_s) or config.backoff_s < 0:
        raise ConfigError(f"generator.backoff_s must be a number of seconds >= 0, got {config.backoff_s}")


def _check_k(config: GeneratorConfig, zoo_dirs: Sequence[str | Path]) -> None:
    from nncaption.zoo import list_entries

    available = len(list_entries("backbone", zoo_dirs, probe=False))
    if config.k > available:
        raise ConfigError(
            f"generator.k must be at most {available}, the number of zoo backbones, got {config.k}; "
            "a prompt also leaves out the backbones of the base captioner's family"
        )


def base_captioner(name: str, zoo_dirs: Sequence[str | Path] = ()) -> Any:
    """Return the zoo captioner `name`; ConfigError naming the known captioners otherwise."""
    from nncaption.zoo import list_entries

    entries = list_entries(None, zoo_dirs, probe=False)
    captioners = sorted(e.name for e in entries if e.kind == "captioner")
    for entry in entries:
        if entry.name == name and entry.kind == "captioner":
            return entry
        if entry.name == name:
            raise ConfigError(
                f"generator.base_model {name!r} is a zoo {entry.kind}, expected a captioner; "
                f"captioners: {', '.join(captioners) or '(none)'}"
            )
    raise ConfigError(
        f"generator.base_model {name!r} is not in the zoo; captioners: {', '.join(captioners) or '(none)'}"
    )


def _finite(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
