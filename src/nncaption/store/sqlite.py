"""SQLite schema and queries of the run store.

The driver process alone writes the store; trial processes send their results back and
never open it. WAL mode and one transaction per state change keep the file consistent
at any kill point. `PRAGMA user_version` contains the schema version; `MIGRATIONS` brings an
older file up to `SCHEMA_VERSION`, one version per transaction.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nncaption.errors import StoreError

SCHEMA_VERSION = 2

# The version 1 schema; a new file gets it first, then every migration.
SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS candidates (
    id INTEGER PRIMARY KEY,             -- the proposal index within the run
    generator TEXT NOT NULL,
    meta_json TEXT NOT NULL,            -- generator settings (design, prompt facts, suggested prm)
    source_sha256 TEXT,
    status TEXT NOT NULL,               -- a Status value, or 'pending' / 'running' before it ends
    message TEXT NOT NULL DEFAULT '',
    duplicate_of INTEGER REFERENCES candidates(id),
    violations_json TEXT NOT NULL DEFAULT '[]',
    checks_json TEXT NOT NULL DEFAULT '[]',
    prm_json TEXT NOT NULL DEFAULT '{}',
    parameters INTEGER,
    best_epoch INTEGER,
    val_metrics_json TEXT,              -- metrics of the best epoch on val
    test_metrics_json TEXT,             -- metrics of the best epoch on test, scored once
    val_bleu4 REAL,
    test_bleu4 REAL,
    seconds REAL,
    created_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS candidates_source ON candidates(source_sha256);
CREATE TABLE IF NOT EXISTS epochs (
    candidate_id INTEGER NOT NULL REFERENCES candidates(id),
    epoch INTEGER NOT NULL,
    train_loss REAL,
    val_bleu4 REAL,
    val_metrics_json TEXT NOT NULL,
    train_seconds REAL,
    eval_seconds REAL,
    images_per_second REAL,
    PRIMARY KEY (candidate_id, epoch)
);
CREATE TABLE IF NOT EXISTS llm_calls (
    candidate_id INTEGER NOT NULL REFERENCES candidates(id),
    attempt INTEGER NOT NULL,
    call_json TEXT NOT NULL,            -- prompt, reply, reasoning, tokens, latency, finish reason
    PRIMARY KEY (candidate_id, attempt)
);
CREATE TABLE IF NOT EXISTS repairs (
    candidate_id INTEGER NOT NULL REFERENCES candidates(id),
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    repair_json TEXT NOT NULL,          -- reason, before/after sha256
    PRIMARY KEY (candidate_id, position)
);
"""

# Statements that move a file from version N-1 to version N.
MIGRATIONS: dict[int, list[str]] = {
    2: [
        # Structural hash of the current code (see nncaption.search.structure).
        "ALTER TABLE candidates ADD COLUMN structure_hash TEXT",
        # Current attempt: 0 is the proposal, each runtime LLM repair round adds one.
        "ALTER TABLE candidates ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0",
        # Cost figures the trial reports besides seconds and parameters (FLOPs, peak memory, ...).
        "ALTER TABLE candidates ADD COLUMN costs_json TEXT NOT NULL DEFAULT '{}'",
        "CREATE INDEX IF NOT EXISTS candidates_structure ON candidates(structure_hash)",
        """CREATE TABLE IF NOT EXISTS attempts (
            candidate_id INTEGER NOT NULL REFERENCES candidates(id),
            attempt INTEGER NOT NULL,
            source_sha256 TEXT,
            structure_hash TEXT,
            status TEXT NOT NULL,           -- the trial's status, or 'pending' / 'running'
            message TEXT NOT NULL DEFAULT '',
            feedback TEXT,                  -- what was sent back to the LLM after this attempt failed
            seconds REAL,
            created_at REAL NOT NULL,
            finished_at REAL,
            PRIMARY KEY (candidate_id, attempt)
        )""",
        """CREATE TABLE IF NOT EXISTS baselines (
            name TEXT PRIMARY KEY,          -- zoo captioner name
            status TEXT NOT NULL,
            message TEXT NOT NULL DEFAULT '',
            parameters INTEGER,
            best_epoch INTEGER,
            val_metrics_json TEXT,
            test_metrics_json TEXT,
            val_bleu4 REAL,
            test_bleu4 REAL,
            seconds REAL,
            costs_json TEXT NOT NULL DEFAULT '{}',
            finished_at REAL
        )""",
        """CREATE TABLE IF NOT EXISTS baseline_epochs (
            name TEXT NOT NULL REFERENCES baselines(name),
            epoch INTEGER NOT NULL,
            train_loss REAL,
            val_bleu4 REAL,
            val_metrics_json TEXT NOT NULL,
            PRIMARY KEY (name, epoch)
        )""",
    ],
}

FINAL_STATES_EXCLUDED = ("pending", "running")


class Store:
    """Access to one run's store.sqlite."""

    def __init__(self, path: Path, create: bool = True) -> None:
        """Open `path`; with `create` False, a missing or empty file is an error rather than a new store."""
        self.path = Path(path)
        if not create and (not self.path.is_file() or self.path.stat().st_size == 0):
            found = "is empty (0 bytes)" if self.path.is_file() else "does not exist"
            raise StoreError(f"the run store {self.path} {found}; pass the run directory of an nncaption search "
                             "that has stored at least one candidate")
        try:
            self.connection = sqlite3.connect(self.path, timeout=30.0)
            self.connection.row_factory = sqlite3.Row
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the run store {self.path}: {exc}") from exc

    def close(self) -> None:
        self.connection.close()

    def _migrate(self) -> None:
        version = self.connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} has schema version {version}, newer than this nncaption ({SCHEMA_VERSION}); upgrade nncaption")
        if version == 0:
            self._apply(1, [s for s in SCHEMA_V1.split(";") if s.strip()])
            version = 1
        for target in range(version + 1, SCHEMA_VERSION + 1):
            self._apply(target, MIGRATIONS[target])

    def _apply(self, target: int, statements: list[str]) -> None:
        """Run `statements` and set user_version to `target` in one transaction."""
        db = self.connection
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in statements:
                db.execute(statement)
            db.execute(f"PRAGMA user_version={target}")
        except sqlite3.Error:
            db.rollback()
            raise
        db.commit()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            with self.connection:
                yield self.connection
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the run store {self.path}: {exc}") from exc

    # --- meta ----------------------------------------------------------------------------

    def set_meta(self, key: str, value: Any) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row["value"])

    # --- candidates ----------------------------------------------------------------------

    def add_candidate(self, candidate_id: int, generator: str, meta: dict[str, Any], source_sha256: str | None) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO candidates(id, generator, meta_json, source_sha256, status, created_at) VALUES (?, ?, ?, ?, 'pending', ?)",
                (candidate_id, generator, json.dumps(meta), source_sha256, time.time()),
            )

    def update_candidate(self, candidate_id: int, **fields: Any) -> None:
        """Set columns of one candidate; dict and list values are stored as JSON in the `*_json` columns."""
        columns, values = [], []
        for name, value in fields.items():
            if name.endswith("_json") and not isinstance(value, str):
                value = json.dumps(value)
            columns.append(f"{name} = ?")
            values.append(value)
        with self.transaction() as db:
            db.execute(f"UPDATE candidates SET {', '.join(columns)} WHERE id = ?", (*values, candidate_id))

    def candidate(self, candidate_id: int) -> sqlite3.Row | None:
        return self.connection.execute("SELECT * FROM candidates WHERE id = ?", (candidate_id,)).fetchone()

    def candidates(self) -> list[sqlite3.Row]:
        return self.connection.execute("SELECT * FROM candidates ORDER BY id").fetchall()

    def first_with_source(self, source_sha256: str, before_id: int) -> int | None:
        row = self.connection.execute(
            "SELECT id FROM candidates WHERE source_sha256 = ? AND id < ? AND duplicate_of IS NULL ORDER BY id LIMIT 1",
            (source_sha256, before_id),
        ).fetchone()
        return None if row is None else int(row["id"])

    def add_epoch(self, candidate_id: int, epoch: int, train_loss: float | None, val_metrics: dict[str, Any],
                  train_seconds: float | None, eval_seconds: float | None, images_per_second: float | None) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO epochs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (candidate_id, epoch, train_loss, val_metrics.get("Bleu_4"), json.dumps(val_metrics),
                 train_seconds, eval_seconds, images_per_second),
            )

    def clear_epochs(self, candidate_id: int) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM epochs WHERE candidate_id = ?", (candidate_id,))

    def drop_epochs_after(self, candidate_id: int, epoch: int) -> None:
        """Delete a candidate's epoch rows after `epoch`. The rows of epochs 1..`epoch` stay."""
        with self.transaction() as db:
            db.execute("DELETE FROM epochs WHERE candidate_id = ? AND epoch > ?", (candidate_id, epoch))

    def epochs(self, candidate_id: int) -> list[sqlite3.Row]:
        return self.connection.execute("SELECT * FROM epochs WHERE candidate_id = ? ORDER BY epoch", (candidate_id,)).fetchall()

    def add_llm_calls(self, candidate_id: int, calls: list[dict[str, Any]]) -> None:
        with self.transaction() as db:
            for attempt, call in enumerate(calls):
                db.execute("INSERT OR REPLACE INTO llm_calls VALUES (?, ?, ?)", (candidate_id, attempt, json.dumps(call)))

    def add_repairs(self, candidate_id: int, repairs: list[dict[str, Any]]) -> None:
        with self.transaction() as db:
            for position, repair in enumerate(repairs):
                db.execute("INSERT OR REPLACE INTO repairs VALUES (?, ?, ?, ?)",
                           (candidate_id, position, str(repair.get("name", "")), json.dumps(repair)))

    # --- attempts, dedup and budgets -----------------------------------------------------

    def add_proposal(self, candidate_id: int, generator: str, meta: dict[str, Any], source_sha256: str | None,
                     structure_hash: str | None, llm_calls: list[dict[str, Any]], repairs: list[dict[str, Any]],
                     status: str = "pending", message: str = "") -> None:
        """Store a new candidate with its LLM calls, repairs and attempt 0 in one transaction.

        `status` is 'pending', or the final status when the generator already reported a failure.
        """
        now = time.time()
        finished = None if status in FINAL_STATES_EXCLUDED else now
        with self.transaction() as db:
            db.execute(
                "INSERT INTO candidates(id, generator, meta_json, source_sha256, structure_hash, status, message, created_at, finished_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (candidate_id, generator, json.dumps(meta), source_sha256, structure_hash, status, message, now, finished),
            )
            db.execute("INSERT INTO attempts(candidate_id, attempt, source_sha256, structure_hash, status, message, created_at, finished_at) "
                       "VALUES (?, 0, ?, ?, ?, ?, ?, ?)", (candidate_id, source_sha256, structure_hash, status, message, now, finished))
            self._insert_calls(db, candidate_id, llm_calls)
            self._insert_repairs(db, candidate_id, repairs)

    def add_attempt(self, candidate_id: int, attempt: int, feedback: str, source_sha256: str | None,
                    structure_hash: str | None, llm_calls: list[dict[str, Any]], repairs: list[dict[str, Any]]) -> None:
        """Close the failed attempt before `attempt` and make `attempt` the candidate's current code, atomically."""
        now = time.time()
        with self.transaction() as db:
            db.execute("UPDATE attempts SET feedback = ? WHERE candidate_id = ? AND attempt = ?", (feedback, candidate_id, attempt - 1))
            db.execute("INSERT OR REPLACE INTO attempts(candidate_id, attempt, source_sha256, structure_hash, status, created_at) "
                       "VALUES (?, ?, ?, ?, 'pending', ?)", (candidate_id, attempt, source_sha256, structure_hash, now))
            db.execute("UPDATE candidates SET attempt = ?, source_sha256 = ?, structure_hash = ?, status = 'pending', "
                       "message = '', finished_at = NULL WHERE id = ?", (attempt, source_sha256, structure_hash, candidate_id))
            self._insert_calls(db, candidate_id, llm_calls)
            self._insert_repairs(db, candidate_id, repairs)

    def set_attempt_status(self, candidate_id: int, attempt: int, status: str, message: str = "",
                           seconds: float | None = None, feedback: str | None = None) -> None:
        with self.transaction() as db:
            db.execute("UPDATE attempts SET status = ?, message = ?, seconds = ?, feedback = ?, finished_at = ? "
                       "WHERE candidate_id = ? AND attempt = ?",
                       (status, message, seconds, feedback, None if status in FINAL_STATES_EXCLUDED else time.time(),
                        candidate_id, attempt))

    def attempts(self, candidate_id: int | None = None) -> list[sqlite3.Row]:
        if candidate_id is None:
            return self.connection.execute("SELECT * FROM attempts ORDER BY candidate_id, attempt").fetchall()
        return self.connection.execute("SELECT * FROM attempts WHERE candidate_id = ? ORDER BY attempt", (candidate_id,)).fetchall()

    def first_with_structure(self, structure_hash: str, candidate_id: int) -> int | None:
        """Return the earliest other candidate with this structural hash that is not itself a duplicate."""
        row = self.connection.execute(
            "SELECT id FROM candidates WHERE structure_hash = ? AND id != ? AND duplicate_of IS NULL "
            "AND status != 'duplicate' ORDER BY created_at, id LIMIT 1",
            (structure_hash, candidate_id),
        ).fetchone()
        return None if row is None else int(row["id"])

    def llm_tokens(self, candidate_id: int | None = None) -> int:
        """Return the prompt plus completion tokens of the stored LLM calls (missing counts as 0), of one candidate or all."""
        total = 0
        query = "SELECT call_json FROM llm_calls" + ("" if candidate_id is None else " WHERE candidate_id = ?")
        for (text,) in self.connection.execute(query, () if candidate_id is None else (candidate_id,)):
            call = json.loads(text)
            total += int(call.get("tokens_in") or 0) + int(call.get("tokens_out") or 0)
        return total

    def llm_calls(self, candidate_id: int | None = None) -> list[sqlite3.Row]:
        if candidate_id is None:
            return self.connection.execute("SELECT * FROM llm_calls ORDER BY candidate_id, attempt").fetchall()
        return self.connection.execute("SELECT * FROM llm_calls WHERE candidate_id = ? ORDER BY attempt", (candidate_id,)).fetchall()

    def trials_started(self) -> int:
        """Return the number of candidate attempts that reached training (finished or running)."""
        row = self.connection.execute(
            "SELECT COUNT(*) FROM attempts WHERE status NOT IN ('pending') AND status NOT IN "
            "('no_code', 'syntax_error', 'contract_violation', 'policy_violation', 'duplicate')"
        ).fetchone()
        return int(row[0])

    def record_trial(self, candidate_id: int, attempt: int, fields: dict[str, Any]) -> None:
        """Store a finished trial's columns on the candidate and on its attempt in one transaction."""
        columns, values = [], []
        for name, value in fields.items():
            if name.endswith("_json") and not isinstance(value, str):
                value = json.dumps(value)
            columns.append(f"{name} = ?")
            values.append(value)
        now = time.time()
        with self.transaction() as db:
            db.execute(f"UPDATE candidates SET {', '.join(columns)}, finished_at = ? WHERE id = ?", (*values, now, candidate_id))
            db.execute("UPDATE attempts SET status = ?, message = ?, seconds = ?, finished_at = ? WHERE candidate_id = ? AND attempt = ?",
                       (fields.get("status"), fields.get("message", ""), fields.get("seconds"), now, candidate_id, attempt))

    @staticmethod
    def _insert_calls(db: sqlite3.Connection, candidate_id: int, calls: list[dict[str, Any]]) -> None:
        for index, call in enumerate(calls):
            db.execute("INSERT OR REPLACE INTO llm_calls VALUES (?, ?, ?)", (candidate_id, index, json.dumps(call)))

    @staticmethod
    def _insert_repairs(db: sqlite3.Connection, candidate_id: int, repairs: list[dict[str, Any]]) -> None:
        for position, repair in enumerate(repairs):
            db.execute("INSERT OR REPLACE INTO repairs VALUES (?, ?, ?, ?)",
                       (candidate_id, position, str(repair.get("name", "")), json.dumps(repair)))

    def repairs(self, candidate_id: int) -> list[sqlite3.Row]:
        return self.connection.execute("SELECT * FROM repairs WHERE candidate_id = ? ORDER BY position", (candidate_id,)).fetchall()

    # --- baselines -----------------------------------------------------------------------

    def baseline(self, name: str) -> sqlite3.Row | None:
        return self.connection.execute("SELECT * FROM baselines WHERE name = ?", (name,)).fetchone()

    def baselines(self) -> list[sqlite3.Row]:
        return self.connection.execute("SELECT * FROM baselines ORDER BY name").fetchall()

    def start_baseline(self, name: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO baselines(name, status) VALUES (?, 'running')", (name,))
            db.execute("DELETE FROM baseline_epochs WHERE name = ?", (name,))

    def add_baseline_epoch(self, name: str, epoch: int, train_loss: float | None, val_metrics: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO baseline_epochs VALUES (?, ?, ?, ?, ?)",
                       (name, epoch, train_loss, val_metrics.get("Bleu_4"), json.dumps(val_metrics)))

    def finish_baseline(self, name: str, fields: dict[str, Any]) -> None:
        columns = ", ".join(f"{k} = ?" for k in fields)
        values = [json.dumps(v) if k.endswith("_json") and not isinstance(v, str) else v for k, v in fields.items()]
        with self.transaction() as db:
            db.execute(f"UPDATE baselines SET {columns}, finished_at = ? WHERE name = ?", (*values, time.time(), name))

    def baseline_epochs(self, name: str) -> list[sqlite3.Row]:
        return self.connection.execute("SELECT * FROM baseline_epochs WHERE name = ? ORDER BY epoch", (name,)).fetchall()
