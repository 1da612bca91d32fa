"""`check_generator_config`: LLM settings rejected when the config is loaded, before any data work."""

import json

import pytest

from nncaption.config import GeneratorConfig
from nncaption.errors import ConfigError
from nncaption.generate import GENERATORS, DataFacts, GenerationContext
from nncaption.generate.llm import check_generator_config
from nncaption.zoo import list_entries

CONTEXT = GenerationContext(DataFacts(image_size=32, vocab_size=500, max_len=20, references_per_image=5), 1_000_000, seed=7)
BACKBONES = len(list_entries("backbone", probe=False))


def _config(**overrides) -> GeneratorConfig:
    settings = {"kind": "openai", "base_url": "http://127.0.0.1:9/v1"}
    settings.update(overrides)
    return GeneratorConfig(**settings)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"temperature": -1.0}, "generator.temperature must be a number >= 0"),
        ({"temperature": float("nan")}, "generator.temperature"),
        ({"top_p": 0.0}, r"generator.top_p must be in \(0, 1\]"),
        ({"top_p": 1.5}, r"generator.top_p must be in \(0, 1\]"),
        ({"k": -1}, "generator.k must be at least 0"),
        ({"k": BACKBONES + 1}, f"generator.k must be at most {BACKBONES}, the number of zoo backbones"),
        ({"max_tokens": 0}, "generator.max_tokens must be at least 1"),
        ({"template": "nosuch"}, "no packaged prompt template 'nosuch'"),
        ({"repair_template": "nosuch"}, "no packaged prompt template 'nosuch'"),
        ({"on_length": "wait"}, "generator.on_length must be one of"),
        ({"on_length": "retry", "length_retry_factor": 1.0}, "length_retry_factor must be a number greater than 1"),
        ({"length_retry_factor": 0.0}, "length_retry_factor must be a number greater than 1"),
        ({"length_retry_factor": float("nan")}, "length_retry_factor must be a number greater than 1"),
        ({"retries": -1}, "generator.retries at least 0"),
        ({"request_timeout_s": 0.0}, "generator.request_timeout_s must be a positive"),
        ({"backoff_s": float("inf")}, "generator.backoff_s"),
        ({"base_url": "127.0.0.1:8000"}, "must start with http://"),
        ({"kind": "replay"}, "needs generator.replay_file"),
        ({"kind": "hf"}, "needs generator.hf_model_dir"),
    ],
)
def test_bad_setting_rejected(overrides, expected):
    with pytest.raises(ConfigError, match=expected):
        check_generator_config(_config(**overrides))


def test_unknown_base_model_lists_only_captioners():
    with pytest.raises(ConfigError) as caught:
        check_generator_config(_config(base_model="nosuch"))
    message = str(caught.value)
    assert "'nosuch' is not in the zoo" in message
    assert "cnn_gru" in message
    assert "vgg" not in message.split("captioners:")[1]  # backbones are not offered


def test_backbone_as_base_model_rejected():
    with pytest.raises(ConfigError, match="'vgg' is a zoo backbone, expected a captioner; captioners: cnn_gru"):
        check_generator_config(_config(base_model="vgg"))


def test_defaults_and_composer_pass():
    check_generator_config(_config())
    check_generator_config(_config(k=BACKBONES, base_model="cnn_gru", temperature=0.0, top_p=1.0))
    # The composer reads none of these keys, so their values do not matter to it.
    check_generator_config(GeneratorConfig(kind="composer", temperature=-1.0, k=1000))


def test_generator_refuses_bad_setting_before_any_request(tmp_path):
    replay = tmp_path / "replies.jsonl"
    replay.write_text(json.dumps({"reply": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="generator.top_p"):
        GENERATORS["replay"](GeneratorConfig(kind="replay", replay_file=str(replay), top_p=2.0), CONTEXT)


def test_meta_stores_the_k_actually_used(tmp_path):
    replay = tmp_path / "replies.jsonl"
    replay.write_text(json.dumps({"candidate": 0, "reply": "no code"}) + "\n", encoding="utf-8")
    config = GeneratorConfig(kind="replay", replay_file=str(replay), k=BACKBONES, base_model="cnn_gru", repair_rounds=0)
    proposal = GENERATORS["replay"](config, CONTEXT).propose(0)
    # cnn_gru's encoder is a vgg, so the vgg backbone is left out of its prompt.
    assert proposal.meta["k"] == BACKBONES - 1 == len(proposal.meta["snippets"])
    assert proposal.meta["k_requested"] == BACKBONES
    assert "vgg" not in proposal.meta["snippets"]


def test_non_utf8_template_rejected(tmp_path):
    template = tmp_path / "bad.md"
    template.write_bytes(b"<<<user>>>\n\xff{{rules}}")
    with pytest.raises(ConfigError, match="bad.md is not UTF-8 text"):
        check_generator_config(_config(template=str(template)))
