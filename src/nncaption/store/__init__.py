"""The run store: one SQLite file per run, written by the search driver only."""

from nncaption.store.sqlite import SCHEMA_VERSION, Store

__all__ = ["SCHEMA_VERSION", "Store"]
