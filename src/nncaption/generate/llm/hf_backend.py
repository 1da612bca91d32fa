"""The `hf` backend: a local model directory run through Hugging Face transformers.

Needs the optional extra (`pip install 'nncaption[hf]'`). The model is loaded once, on the
first request, and requests run one at a time because generation already uses the device.

Generation stops after the current token once `HFBackend.cancel()` is called or the run-wide
`cancel.CANCELLED` event is set. The SIGINT handler that `cancel.watch_interrupts` installs
sets that event on the first Ctrl-C. The request then raises RequestCancelled instead of
returning a cut reply.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nncaption.config import GeneratorConfig
from nncaption.errors import ConfigError
from nncaption.generate.llm.backend import (
    LLMReply,
    Message,
    RequestKey,
    reasoning_from_fields,
    register_backend,
)
from nncaption.generate.llm.cancel import CANCELLED, RequestCancelled, watch_interrupts

logger = logging.getLogger(__name__)


class HFBackend:
    kind = "hf"

    def __init__(self, config: GeneratorConfig) -> None:
        if not config.hf_model_dir:
            raise ConfigError("generator.kind=hf needs generator.hf_model_dir=PATH to a local transformers model")
        self._dir = Path(config.hf_model_dir).expanduser()
        if not self._dir.is_dir():
            raise ConfigError(f"generator.hf_model_dir {self._dir} is not a directory; download the model there first")
        self._config = config
        self.model = self._dir.name
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None
        self._stop = threading.Event()
        # A new backend means a new run, so an interrupt of an earlier run in this process is forgotten.
        CANCELLED.clear()
        watch_interrupts()

    def cancel(self) -> None:
        """End the running generation after its current token. It and every later request raise RequestCancelled.

        Safe to call from any thread. Loading the model is not interrupted: a request that is
        still loading raises once the load has finished.
        """
        self._stop.set()

    def _cancelled(self) -> bool:
        return self._stop.is_set() or CANCELLED.is_set()

    def _raise_if_cancelled(self) -> None:
        if self._cancelled():
            raise RequestCancelled(f"LLM request to {self.model} abandoned: the run was interrupted")

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            try:
                import transformers
                from transformers import AutoModelForCausalLM, AutoTokenizer
            except ImportError as exc:
                raise ConfigError(
                    "generator.kind=hf needs transformers; install it with `pip install 'nncaption[hf]'`"
                ) from exc
            logger.info("loading %s on %s", self._dir, self._config.hf_device)
            tokenizer = AutoTokenizer.from_pretrained(self._dir)
            # transformers 4.56 renamed torch_dtype to dtype; "auto" keeps the checkpoint's dtype.
            major, minor = (int(part) for part in transformers.__version__.split(".")[:2])
            dtype_key = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
            model = AutoModelForCausalLM.from_pretrained(self._dir, **{dtype_key: "auto"})
            model.to(self._config.hf_device).eval()
            self._loaded = (tokenizer, model)
        return self._loaded

    def complete(self, messages: list[Message], *, max_tokens: int, key: RequestKey) -> LLMReply:
        """Apply the model's chat template, sample up to `max_tokens` new tokens, decode them."""
        import torch

        with self._lock:
            self._raise_if_cancelled()
            tokenizer, model = self._load()
            self._raise_if_cancelled()
            started = time.monotonic()
            prompt_ids = tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )["input_ids"].to(model.device)  # [1, P]
            sampling = self._config.temperature > 0
            with torch.no_grad():
                output = model.generate(
                    prompt_ids,
                    attention_mask=torch.ones_like(prompt_ids),
                    max_new_tokens=max_tokens,
                    do_sample=sampling,
                    temperature=self._config.temperature if sampling else None,
                    top_p=self._config.top_p if sampling else None,
                    pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
                    stopping_criteria=_cancel_criteria(self._cancelled),
                )  # [1, P + new]
            latency = time.monotonic() - started
            # A reply cut short by a cancel is not the model's whole reply, so it is not returned.
            self._raise_if_cancelled()

        new_ids = output[0, prompt_ids.shape[1] :].tolist()
        ended = bool(new_ids) and new_ids[-1] in _eos_ids(model, tokenizer)
        content = tokenizer.decode(new_ids, skip_special_tokens=True)
        reasoning, source = reasoning_from_fields(content, {})
        return LLMReply(
            content=content,
            reasoning=reasoning,
            reasoning_source=source,
            finish_reason="length" if len(new_ids) >= max_tokens and not ended else "stop",
            tokens_in=int(prompt_ids.shape[1]),
            tokens_out=len(new_ids),
            latency_s=round(latency, 3),
            model=self.model,
        )


def _cancel_criteria(cancelled: Callable[[], bool]) -> Any:
    """Return a transformers StoppingCriteriaList that ends generation once `cancelled()` is true.

    `generate` calls its stopping criteria after every new token (the decoding loop of
    transformers 5.25, `GenerationMixin._sample`), so generation ends within one step of a cancel.
    """
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class CancelCriterion(StoppingCriteria):
        def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
            # One flag per sequence, shape [B]. All sequences stop together.
            return torch.full((input_ids.shape[0],), cancelled(), dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([CancelCriterion()])


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    value = getattr(model.generation_config, "eos_token_id", None)
    if value is None:
        value = tokenizer.eos_token_id
    ids = value if isinstance(value, list) else [value]
    return {int(i) for i in ids if i is not None}


@register_backend("hf")
def make_hf_backend(config: GeneratorConfig) -> HFBackend:
    return HFBackend(config)
