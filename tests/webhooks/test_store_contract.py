"""Each webhook store passes the same contract suite."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from contract import WebhookStoreContract, endpoint

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


def _open_and_add(path: str, number: int, start_at: float) -> None:
    time.sleep(max(0.0, start_at - time.time()))
    hooks = SQLiteWebhookStore(path)
    assert hooks.add_endpoint(endpoint(number), max_endpoints=100)
    hooks.close()


def test_processes_opening_a_new_sqlite_file_at_once_all_get_one_schema(tmp_path: Path) -> None:
    """Switching a new file to WAL needs it to itself, and SQLite does not wait for that."""
    context = multiprocessing.get_context("forkserver")  # children start in milliseconds
    context.set_forkserver_preload(["payment_intent"])
    for attempt in range(2):
        path = str(tmp_path / f"raced-{attempt}.sqlite3")
        start_at = time.time() + 0.5
        with ProcessPoolExecutor(6, mp_context=context) as pool:
            list(pool.map(_open_and_add, [path] * 6, range(6), [start_at] * 6))
        hooks = SQLiteWebhookStore(path)
        assert hooks.schema_version == len(MIGRATIONS)
        assert len(hooks.endpoints()) == 6
        hooks.close()


def test_a_closed_sqlite_store_refuses_work(tmp_path: Path) -> None:
    hooks = SQLiteWebhookStore(tmp_path / "closed.sqlite3")
    hooks.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        hooks.endpoint("we_x")
