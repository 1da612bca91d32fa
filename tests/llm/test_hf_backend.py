"""The hf backend through the real transformers generate path, with a tiny random model built here."""

from pathlib import Path

import pytest

from nncaption.config import GeneratorConfig
from nncaption.errors import ConfigError
from nncaption.generate.llm.backend import RequestKey
from nncaption.generate.llm.hf_backend import HFBackend

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

WORDS = ["hello", "<pad>", "</s>", "[UNK]", "<|user|>", "<|assistant|>", "<think>", "</think>", "import", "torch"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
MESSAGES = [{"role": "user", "content": "import torch"}]
KEY = RequestKey(candidate=0, call=0)


def _build_model(directory: Path, *, zero_head: bool) -> Path:
    """Save a one-layer Llama and a word-level tokenizer; a zero head makes greedy decoding pick id 0."""
    import torch

    vocab = {word: index for index, word in enumerate(WORDS)}
    word_level = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    word_level.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    word_level.decoder = tokenizers.decoders.WordPiece(prefix="##")
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=word_level, unk_token="[UNK]", pad_token="<pad>", eos_token="</s>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(directory)

    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(WORDS), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
        eos_token_id=vocab["</s>"], pad_token_id=vocab["<pad>"], bos_token_id=None, tie_word_embeddings=False,
    )
    model = transformers.LlamaForCausalLM(config)
    if zero_head:
        with torch.no_grad():
            model.lm_head.weight.zero_()
    model.save_pretrained(directory)
    return directory


@pytest.mark.slow
def test_greedy_reply_cut_at_token_limit(tmp_path):
    directory = _build_model(tmp_path / "tiny", zero_head=True)
    backend = HFBackend(GeneratorConfig(kind="hf", hf_model_dir=str(directory), temperature=0.0))

    reply = backend.complete(MESSAGES, max_tokens=6, key=KEY)

    assert reply.content.split() == ["hello"] * 6
    assert reply.tokens_out == 6
    assert reply.finish_reason == "length"
    # "<|user|> import torch <|assistant|>" is four tokens under the word-level tokenizer.
    assert reply.tokens_in == 4
    assert reply.model == "tiny"
    assert reply.latency_s > 0


@pytest.mark.slow
def test_sampling_reply_within_budget(tmp_path):
    directory = _build_model(tmp_path / "tiny", zero_head=False)
    backend = HFBackend(GeneratorConfig(kind="hf", hf_model_dir=str(directory), temperature=0.8, top_p=0.9))

    reply = backend.complete(MESSAGES, max_tokens=8, key=KEY)

    assert 1 <= reply.tokens_out <= 8
    assert reply.finish_reason in ("stop", "length")
    assert isinstance(reply.content, str)
    again = backend.complete(MESSAGES, max_tokens=3, key=KEY)
    assert again.tokens_out <= 3


def test_missing_model_dir_rejected(tmp_path):
    with pytest.raises(ConfigError, match="hf_model_dir"):
        HFBackend(GeneratorConfig(kind="hf"))
    with pytest.raises(ConfigError, match="not a directory"):
        HFBackend(GeneratorConfig(kind="hf", hf_model_dir=str(tmp_path / "absent")))
