"""The PostgreSQL store passes the store contract suite on a real server, and keeps its schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from payment_intent.testing.contract import StoreContract


class TestPostgresStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _dsn(self, postgres_dsn: str) -> None:
        self.dsn = postgres_dsn

    def make_store(self, tmp_path: Path):  # type: ignore[no-untyped-def]
        from payment_intent.adapters.postgres import PostgresStore

        return PostgresStore(self.dsn, max_size=self.racers + 2)
