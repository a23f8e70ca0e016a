"""The SQLite store passes the store contract suite, and keeps its schema and data in its file."""

from __future__ import annotations

from pathlib import Path

from payment_intent.adapters.sqlite import SQLiteStore
from payment_intent.testing.contract import StoreContract


class TestSQLiteStore(StoreContract):
    def make_store(self, tmp_path: Path) -> SQLiteStore:
        return SQLiteStore(tmp_path / "intents.db")
