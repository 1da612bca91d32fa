"""SQLite schema and queries of the run store.

The driver process alone writes the store; trial processes send their results back and
never open it. WAL mode and one transaction per state change keep the file consistent
at any kill point. `PRAGMA user_version` holds the schema version.
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

SCHEMA_VERSION = 1

SCHEMA = """
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

FINAL_STATES_EXCLUDED = ("pending", "running")


class Store:
    """Access to one run's store.sqlite."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
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
        with self.connection:
            self.connection.executescript(SCHEMA)
            self.connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

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
