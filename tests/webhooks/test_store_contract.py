"""Each webhook store passes the same contract suite."""

from __future__ import annotations

from pathlib import Path

import pytest
from contract import WebhookStoreContract

from payment_intent.webhooks.sqlite import MIGRATIONS, SQLiteWebhookStore
from payment_intent.webhooks.storage import InMemoryWebhookStore, WebhookStore


class TestInMemoryWebhookStore(WebhookStoreContract):
    def make_hooks(self) -> WebhookStore:
        return InMemoryWebhookStore()


class TestSQLiteWebhookStore(WebhookStoreContract):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.path = tmp_path / "hooks.sqlite3"

    def make_hooks(self) -> WebhookStore:
        return SQLiteWebhookStore(self.path)


class TestPostgresWebhookStore(WebhookStoreContract):
    @pytest.fixture(autouse=True)
    def _database(self, postgres_dsn: str) -> None:
        self.dsn = postgres_dsn

    def make_hooks(self) -> WebhookStore:
        from payment_intent.webhooks.postgres import PostgresWebhookStore

        return PostgresWebhookStore(self.dsn)


def test_the_sqlite_tables_live_beside_the_intents_with_their_own_schema_version(
    tmp_path: Path,
) -> None:
    from payment_intent import SQLiteStore

    path = tmp_path / "shared.sqlite3"
    store = SQLiteStore(path)
    hooks = SQLiteWebhookStore(path)
    assert hooks.schema_version == len(MIGRATIONS)
    assert SQLiteStore(path).schema_version == store.schema_version  # untouched by ours
    assert SQLiteWebhookStore(path).schema_version == len(MIGRATIONS)  # reopening migrates nothing
