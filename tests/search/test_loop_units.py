"""Structural hash, store migrations, budgets and config checks of the search loop."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest

import nncaption.search.driver as driver
from nncaption.cli.main import main
from nncaption.report import write_report
from nncaption.search.candidates import repair_feedback
from nncaption.search.structure import structure_hash
from nncaption.status import Status
from nncaption.store import SCHEMA_VERSION, Store
from nncaption.store.sqlite import SCHEMA_V1
from nncaption.trial.runner import TrialOutcome

from .fake_trial import fake_run_trial
from .helpers import model_variant, search_args, write_replay

BASE = model_variant(64)


def test_structure_hash_ignores_comments_names_layout():
    renamed = BASE.replace("self.project", "self.projection").replace("features", "feats")
    commented = "# a comment\n" + BASE.replace("\n\n\n", "\n\n\n# between\n")
    reformatted = BASE.replace("nn.Linear(32, 64)", "nn.Linear( 32,\n            64 )")
    assert structure_hash(renamed) == structure_hash(BASE)
    assert structure_hash(commented) == structure_hash(BASE)
    assert structure_hash(reformatted) == structure_hash(BASE)


def test_structure_hash_sees_sizes_and_layers():
    assert structure_hash(model_variant(96)) != structure_hash(BASE)
    assert structure_hash(BASE.replace("nn.LSTM", "nn.GRU")) != structure_hash(BASE)
    assert structure_hash("def broken(:\n") is None


def test_store_migrates_v1_file(tmp_path):
    path = tmp_path / "store.sqlite"
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_V1)
    db.execute("INSERT INTO candidates(id, generator, meta_json, status, created_at) VALUES (0, 'composer', '{}', 'trained', 1.0)")
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()

    store = Store(path)
    assert store.connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    row = store.candidate(0)
    assert row["status"] == "trained"
    assert row["attempt"] == 0
    assert row["structure_hash"] is None
    assert store.baselines() == []
    store.close()


def test_store_rejects_newer_schema(tmp_path):
    path = tmp_path / "store.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(Exception, match="newer than this nncaption"):
        Store(path)


@pytest.fixture
def fake_trials(monkeypatch):
    monkeypatch.setattr(driver, "run_trial", fake_run_trial)


def _run(tmp_path, data_cache, *settings):
    return main(search_args(tmp_path / "run", data_cache, "search.report=false", "trial.epochs=1", *settings))


def _statuses(tmp_path):
    db = sqlite3.connect(tmp_path / "run" / "store.sqlite")
    return dict(db.execute("SELECT id, status FROM candidates ORDER BY id").fetchall())


def test_duplicate_structure_linked_to_first(tmp_path, data_cache, fake_trials):
    replay = tmp_path / "replies.jsonl"
    renamed = BASE.replace("self.head", "self.output_layer")
    replay.write_text("".join(f'{{"candidate": {i}, "reply": {repr_json(code)}}}\n' for i, code in enumerate([BASE, renamed])))
    assert _run(tmp_path, data_cache, "search.candidates=2", "generator.kind=replay", f"generator.replay_file={replay}",
                "generator.k=2") == 0
    db = sqlite3.connect(tmp_path / "run" / "store.sqlite")
    assert db.execute("SELECT status, duplicate_of FROM candidates WHERE id = 1").fetchone() == ("duplicate", 0)

    write_report(tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "report" / "summary.json").read_text())
    assert summary["failures"] == [{"status": "duplicate", "message": "same structure as candidate 0", "candidates": 1}]
    assert "Most frequent failures" in (tmp_path / "run" / "report" / "summary.md").read_text()
    assert summary["by_group"]["k"] == {"2": {"trained": 1, "duplicate": 1}}


def repr_json(code: str) -> str:
    return json.dumps(f"```python\n{code}```")


def test_trial_budget_stops_search(tmp_path, data_cache, fake_trials):
    assert _run(tmp_path, data_cache, "search.candidates=6", "search.max_trials=3", "search.workers=1") == 0
    statuses = _statuses(tmp_path)
    assert sum(1 for s in statuses.values() if s == "trained") == 3
    assert all(s in ("trained", "pending") for s in statuses.values())

    # A larger budget on the same run directory continues where it stopped.
    assert _run(tmp_path, data_cache, "search.candidates=6", "search.max_trials=6", "search.workers=1") == 0
    assert sum(1 for s in _statuses(tmp_path).values() if s == "trained") == 6


def test_token_budget_stops_generation(tmp_path, data_cache, fake_trials):
    replay = write_replay(tmp_path / "replies.jsonl", 6, set())  # 150 tokens per reply
    assert _run(tmp_path, data_cache, "search.candidates=6", "search.max_llm_tokens=400", "search.lookahead=0",
                "search.workers=1", "generator.kind=replay", f"generator.replay_file={replay}", "generator.k=2") == 0
    assert len(_statuses(tmp_path)) == 3


def test_runtime_repair_stored_as_attempt(tmp_path, data_cache, fake_trials):
    replay = write_replay(tmp_path / "replies.jsonl", 2, {1})
    assert _run(tmp_path, data_cache, "search.candidates=2", "generator.kind=replay", f"generator.replay_file={replay}",
                "generator.k=2", "generator.repair_rounds=1") == 0
    db = sqlite3.connect(tmp_path / "run" / "store.sqlite")
    assert db.execute("SELECT attempt, status FROM candidates WHERE id = 1").fetchone() == (1, "trained")
    attempts = db.execute("SELECT attempt, status, feedback FROM attempts WHERE candidate_id = 1 ORDER BY attempt").fetchall()
    assert [a[:2] for a in attempts] == [(0, "build_error"), (1, "trained")]
    assert "FAIL_BUILD" in attempts[0][2]
    assert db.execute("SELECT COUNT(*) FROM llm_calls WHERE candidate_id = 1").fetchone()[0] == 2
    assert (tmp_path / "run" / "candidates" / "0001" / "attempt_1" / "model.py").is_file()


def test_budget_keys_may_change_on_resume(tmp_path, data_cache, fake_trials, capsys):
    assert _run(tmp_path, data_cache, "search.candidates=1") == 0
    assert _run(tmp_path, data_cache, "search.candidates=2", "search.max_seconds=600") == 0
    assert _run(tmp_path, data_cache, "search.candidates=2", "trial.batch_size=8") == 2
    assert "trial.batch_size" in capsys.readouterr().err


def test_wall_clock_budget_stops_search(tmp_path, data_cache, fake_trials):
    assert _run(tmp_path, data_cache, "search.candidates=40", "search.max_seconds=1.5", "search.workers=1") == 0
    statuses = _statuses(tmp_path)
    trained = sum(1 for s in statuses.values() if s == "trained")
    assert 1 <= trained < 40
    db = sqlite3.connect(tmp_path / "run" / "store.sqlite")
    elapsed = json.loads(db.execute("SELECT value FROM meta WHERE key = 'elapsed_s'").fetchone()[0])
    assert elapsed >= 1.5


def test_structure_hash_deep_expression_falls_back():
    deep = BASE + "\n_DEEP = " + "-" * 990 + "1\n"
    digest = structure_hash(deep)
    assert digest == hashlib.sha256(deep.encode("utf-8")).hexdigest()


def test_deeply_nested_proposal_stored_and_trained(tmp_path, data_cache, fake_trials):
    replay = tmp_path / "replies.jsonl"
    deep = BASE + "\n_DEEP = " + "-" * 990 + "1\n"
    replay.write_text(f'{{"candidate": 0, "reply": {repr_json(deep)}}}\n')
    assert _run(tmp_path, data_cache, "search.candidates=1", "generator.kind=replay", f"generator.replay_file={replay}",
                "generator.k=2") == 0
    db = sqlite3.connect(tmp_path / "run" / "store.sqlite")
    status, structure = db.execute("SELECT status, structure_hash FROM candidates WHERE id = 0").fetchone()
    assert status == "trained"
    assert structure == hashlib.sha256(deep.encode("utf-8")).hexdigest()


def test_search_writes_report_with_failures(tmp_path, data_cache, fake_trials, capsys):
    replay = write_replay(tmp_path / "replies.jsonl", 2, {1})  # candidate 1 fails its build and gets no repair
    assert _run(tmp_path, data_cache, "search.report=true", "search.candidates=2", "generator.kind=replay",
                f"generator.replay_file={replay}", "generator.k=2", "generator.repair_rounds=0") == 0
    assert "report:" in capsys.readouterr().out
    summary = json.loads((tmp_path / "run" / "report" / "summary.json").read_text())
    assert [f["status"] for f in summary["failures"]] == ["build_error"]
    assert "Most frequent failures" in (tmp_path / "run" / "report" / "index.html").read_text()


def test_repair_with_same_code_not_retrained(tmp_path, data_cache, fake_trials):
    failing = model_variant(40, fail_build=True)
    replay = tmp_path / "replies.jsonl"
    replay.write_text("".join(json.dumps({"candidate": 0, "call": call, "reply": f"```python\n{failing}```"}) + "\n"
                              for call in (0, 1)))
    assert _run(tmp_path, data_cache, "search.candidates=1", "generator.kind=replay", f"generator.replay_file={replay}",
                "generator.k=2", "generator.repair_rounds=1") == 0
    db = sqlite3.connect(tmp_path / "run" / "store.sqlite")
    status, message = db.execute("SELECT status, message FROM candidates WHERE id = 0").fetchone()
    assert status == "build_error"
    assert "returned the same code" in message
    attempts = db.execute("SELECT attempt, status, seconds FROM attempts WHERE candidate_id = 0 ORDER BY attempt").fetchall()
    assert [a[:2] for a in attempts] == [(0, "build_error"), (1, "build_error")]
    assert not (tmp_path / "run" / "candidates" / "0000" / "attempt_1" / "trial").exists()


def test_repair_feedback_states_check_message_once():
    message = "check causality failed: logits at step 2 change when a later token changes"
    outcome = TrialOutcome(Status.SMOKE_FAILED, message,
                           checks=[{"name": "causality", "passed": False, "message": message.split(": ", 1)[1]}])
    feedback = repair_feedback(outcome)
    assert feedback.count("logits at step 2 change") == 1
    assert "Failed behavioural check `causality`" in feedback
