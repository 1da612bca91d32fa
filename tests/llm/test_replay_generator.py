"""The LLM generator end to end over recorded replies, and over the scripted server for `openai`."""

import json
from pathlib import Path

import pytest

from nncaption.config import GeneratorConfig
from nncaption.errors import ConfigError
from nncaption.generate import GENERATORS, DataFacts, GenerationContext
from nncaption.generate.llm import LLMGenerator  # noqa: F401  (registers the LLM kinds)
from nncaption.generate.llm.replay_backend import ReplayMissingError, load_replay
from nncaption.status import Status

MODEL = (Path(__file__).parent / "fixtures" / "models" / "lstm_captioner.py").read_text(encoding="utf-8")
NO_HP = MODEL.replace('def supported_hyperparameters():\n    return {"lr", "momentum"}\n\n\n', "")
CONTEXT = GenerationContext(DataFacts(image_size=32, vocab_size=500, max_len=20, references_per_image=5), 1_000_000, seed=7)

RECORDS = [
    {"candidate": 0, "reply": f"<think>plan</think>\n```python\n{MODEL}```\n"},
    {"candidate": 1, "reply": "Here it is:\n" + MODEL.replace('prm["lr"]', "prm[\u201clr\u201d]") + "\nThis model is causal.\n"},
    {"candidate": 2, "call": 0, "reply": f"```python\n{NO_HP}```"},
    {"candidate": 2, "call": 1, "reply": f"Fixed:\n```python\n{MODEL}```"},
    {"candidate": 3, "reply": "<think>so many options", "finish_reason": "length"},
    {"candidate": 3, "call": 1, "reply": f"```python\n{MODEL}```"},
    {"candidate": 4, "reply": ""},
    {"candidate": 5, "reply": f"```python\n{NO_HP}```"},
    {"candidate": 0, "call": 1, "reply": f"```python\n{MODEL.replace('64', '96')}```"},
]


def _generator(tmp_path, records=RECORDS, **overrides):
    replay = tmp_path / "replies.jsonl"
    replay.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    settings = {"kind": "replay", "replay_file": str(replay), "k": 3, "repair_rounds": 1}
    settings.update(overrides)
    return GENERATORS["replay"](GeneratorConfig(**settings), CONTEXT)


def test_valid_reply_proposed(tmp_path):
    proposal = _generator(tmp_path).propose(0)

    assert proposal.source == MODEL
    assert proposal.status is None
    assert proposal.extraction["method"] == "fenced:python in answer"
    assert proposal.repairs == []
    assert len(proposal.llm_calls) == 1
    assert proposal.llm_calls[0]["reply"].startswith("<think>")
    assert {"prompt.md", "reply.md", "extracted.py"} <= set(proposal.artifacts)


def test_meta_records_prompt_inputs(tmp_path):
    from nncaption.zoo import get_entry

    proposal = _generator(tmp_path).propose(0)
    meta = proposal.meta

    assert meta["template"] == "default"
    assert meta["k"] == 3
    assert len(meta["snippets"]) == 3
    assert meta["base_model"] is not None
    base = get_entry(meta["base_model"], probe=False)
    assert base.kind == "captioner"
    assert all(get_entry(name, probe=False).family != base.family for name in meta["snippets"])
    prompt = proposal.artifacts["prompt.md"]
    assert all(name in prompt for name in meta["snippets"])
    assert "Net API" in prompt
    assert "500" in prompt
    assert proposal.llm_calls[0]["prompt"][0]["role"] == "system"


def test_prompt_choice_is_seeded(tmp_path):
    first = [_generator(tmp_path).propose(i).meta for i in (0, 1)]
    second = [_generator(tmp_path).propose(i).meta for i in (0, 1)]
    assert [(m["base_model"], m["snippets"]) for m in first] == [(m["base_model"], m["snippets"]) for m in second]


def test_static_repairs_recorded(tmp_path):
    proposal = _generator(tmp_path).propose(1)

    assert proposal.status is None
    assert proposal.extraction["method"] == "bare in answer"
    # Extraction already cut the prose around bare code, so only the quotes need a repair.
    assert [r["name"] for r in proposal.repairs] == ["normalise_lookalikes"]
    assert all(r["before_sha256"] != r["after_sha256"] for r in proposal.repairs)
    assert proposal.source == MODEL
    assert proposal.artifacts["repaired.py"] == MODEL


def test_violation_fed_back_in_repair_round(tmp_path):
    proposal = _generator(tmp_path).propose(2)

    assert proposal.status is None
    assert proposal.source == MODEL
    rounds = [r for r in proposal.repairs if r["name"] == "llm_repair_round"]
    assert len(rounds) == 1
    assert rounds[0]["stage"] == "repair_1"
    assert "hp-function-missing" in rounds[0]["feedback"]
    assert rounds[0]["outcome"] == "valid"
    assert [c["call"] for c in proposal.llm_calls] == [0, 1]
    assert "hp-function-missing" in proposal.artifacts["repair_1_prompt.md"]
    assert NO_HP.strip() in proposal.artifacts["repair_1_prompt.md"]
    assert proposal.artifacts["extracted.py"] == NO_HP


def test_no_repair_rounds_keeps_violation(tmp_path):
    proposal = _generator(tmp_path, repair_rounds=0).propose(2)
    assert proposal.status is Status.CONTRACT_VIOLATION
    assert "hp-function-missing" in proposal.message
    assert len(proposal.llm_calls) == 1


def test_repair_round_without_recorded_reply(tmp_path):
    proposal = _generator(tmp_path).propose(5)
    assert proposal.status is Status.CONTRACT_VIOLATION
    assert proposal.source == NO_HP
    assert len(proposal.llm_calls) == 1


def test_truncated_thinking_followed_up(tmp_path):
    proposal = _generator(tmp_path).propose(3)

    assert proposal.source == MODEL
    assert [c["purpose"] for c in proposal.llm_calls] == ["propose", "propose:finish_after_thinking"]
    assert proposal.llm_calls[0]["finish_reason"] == "length"


def test_empty_reply_is_no_code(tmp_path):
    proposal = _generator(tmp_path).propose(4)
    assert proposal.source is None
    assert proposal.status is Status.NO_CODE
    assert proposal.message == "reply is empty"
    assert proposal.extraction["reason"] == "reply is empty"


def test_missing_candidate_raises(tmp_path):
    with pytest.raises(ReplayMissingError, match="candidate 9 call 0"):
        _generator(tmp_path).propose(9)


def test_runtime_repair_sends_feedback(tmp_path):
    generator = _generator(tmp_path)
    proposal = generator.propose(0)

    revised = generator.repair(proposal, "forward raised RuntimeError: shape mismatch", attempt=1)

    assert revised is not None
    assert revised.source == MODEL.replace("64", "96")
    assert revised.meta["runtime_repair"] == 1
    assert "shape mismatch" in revised.artifacts["runtime_repair_1_prompt.md"]
    assert revised.repairs[-1]["stage"] == "runtime_repair_1"
    assert [c["call"] for c in revised.llm_calls] == [0, 1]
    assert proposal.source == MODEL  # the original proposal is left as it was
    assert "repair_rounds" not in proposal.extraction
    assert len(revised.extraction["repair_rounds"]) == 1
    assert generator.repair(proposal, "again", attempt=2) is None


def test_record_file_replays_identically(tmp_path):
    recorded = tmp_path / "recorded.jsonl"
    first = _generator(tmp_path, record_file=str(recorded)).propose(2)

    assert len(load_replay(recorded)) == 2
    again = _generator(tmp_path / "..", replay_file=str(recorded)).propose(2)
    assert again.source == first.source
    assert [c["reply"] for c in again.llm_calls] == [c["reply"] for c in first.llm_calls]


def test_bad_replay_line_rejected(tmp_path):
    with pytest.raises(ConfigError, match="line 1"):
        _generator(tmp_path, records=[{"candidate": 0}])


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("candidate", "abc", "'candidate' must be a non-negative integer, got \"abc\""),
        ("candidate", None, "'candidate' must be a non-negative integer, got null"),
        ("candidate", True, "'candidate' must be a non-negative integer"),
        ("call", -1, "'call' must be a non-negative integer"),
        ("tokens_in", "many", "'tokens_in' must be a non-negative integer or null"),
        ("tokens_out", 1.5, "'tokens_out' must be a non-negative integer or null"),
        ("reasoning", 5, "'reasoning' must be a string or null"),
        ("finish_reason", 7, "'finish_reason' must be a string or null"),
        ("latency_s", "slow", "'latency_s' must be a number or null"),
    ],
)
def test_replay_field_types_checked_with_line_number(tmp_path, field, value, expected):
    good = {"candidate": 0, "reply": "x", "tokens_in": None, "reasoning": None}
    bad = {"candidate": 1, "reply": "y", field: value}
    with pytest.raises(ConfigError) as caught:
        _generator(tmp_path, records=[good, bad])
    assert "replies.jsonl line 2 " in str(caught.value)
    assert expected in str(caught.value)


def test_replay_file_not_utf8(tmp_path):
    path = tmp_path / "binary.jsonl"
    path.write_bytes(b'{"reply": "a"}\n\xff\xfe')
    with pytest.raises(ConfigError, match=r"binary.jsonl .*is not UTF-8 text: byte 15"):
        load_replay(path)


def test_replay_without_keys_is_sequential(tmp_path):
    generator = _generator(tmp_path, records=[{"reply": f"```python\n{MODEL}```"}, {"reply": ""}])
    assert generator.propose(0).source == MODEL
    assert generator.propose(1).status is Status.NO_CODE


def test_openai_kind_against_scripted_server(mock_llm):
    mock_llm.script = [{"content": f"```python\n{MODEL}```", "reasoning_content": "encoder first"}]
    config = GeneratorConfig(kind="openai", base_url=mock_llm.url, model="mock-r1", k=2, backoff_s=0.01)

    proposal = GENERATORS["openai"](config, CONTEXT).propose(0)

    assert proposal.source == MODEL
    assert proposal.meta["llm_model"] == "mock-r1"
    assert proposal.artifacts["reasoning.md"] == "encoder first"
    assert proposal.llm_calls[0]["backend"] == "openai"
    assert mock_llm.requests[0]["messages"] == proposal.llm_calls[0]["prompt"]


def test_unknown_template_placeholder_rejected_early(tmp_path):
    template = tmp_path / "mine.md"
    template.write_text("<<<user>>>\nDesign a model for {{vocab_size}} words and {{colour}}.\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="colour"):
        _generator(tmp_path, template=str(template))


def test_user_template_renders_messages(tmp_path):
    template = tmp_path / "mine.md"
    template.write_text("Vocabulary {{vocab_size}}, {{k}} snippets:\n{{snippets}}", encoding="utf-8")
    proposal = _generator(tmp_path, template=str(template), k=2).propose(0)

    messages = proposal.llm_calls[0]["prompt"]
    assert [m["role"] for m in messages] == ["user"]
    assert messages[0]["content"].startswith("Vocabulary 500, 2 snippets:")
    assert proposal.meta["template"] == str(template)
    assert all(f"Snippet {n}:" in messages[0]["content"] for n in (1, 2))


def test_unknown_on_length_rejected(tmp_path):
    with pytest.raises(ConfigError, match="on_length"):
        _generator(tmp_path, on_length="truncate")


def test_repair_round_without_code_recorded(tmp_path):
    records = [{"candidate": 0, "reply": f"```python\n{NO_HP}```"}, {"candidate": 0, "call": 1, "reply": "Sorry."}]
    proposal = _generator(tmp_path, records=records, repair_rounds=2).propose(0)

    assert proposal.status is Status.CONTRACT_VIOLATION
    assert proposal.source == NO_HP
    assert proposal.repairs[-1]["outcome"] == "no_code"
    assert proposal.repairs[-1]["after_sha256"] is None
    assert proposal.extraction["repair_rounds"][0]["code"] is None
    assert len(proposal.llm_calls) == 2
