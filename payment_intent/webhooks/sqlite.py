"""The webhook store in a SQLite file: the same file as the intents' :class:`SQLiteStore`, in
tables of its own, migrated by a version table of its own (``payment_intent_webhooks_schema``;
the intents' store owns ``PRAGMA user_version``).

It keeps connections of its own, opened as the intents' store opens its own
(:class:`~payment_intent.adapters.sqlite_connections.SQLiteConnections`). A slow receiver never
holds a transaction: a claim and a record are each one short ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from payment_intent.adapters.sqlite_connections import SQLiteConnections
from payment_intent.webhooks._sql import RETENTION_STEP, SqlWebhookStore, claim_sql
from payment_intent.webhooks.storage import Pruning

#: Forward migrations: entry ``n`` takes the webhook tables from version ``n`` to ``n + 1``.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE webhook_endpoints (
            id TEXT PRIMARY KEY,
            dialect TEXT NOT NULL,
            livemode INTEGER NOT NULL,
            url TEXT NOT NULL,
            enabled_events TEXT NOT NULL,
            secret TEXT NOT NULL,
            created INTEGER NOT NULL,
            updated INTEGER NOT NULL,
            cursor INTEGER NOT NULL,
            status TEXT NOT NULL,
            api_version TEXT,
            description TEXT,
            metadata TEXT NOT NULL
        )""",
        """CREATE TABLE webhook_deliveries (
            id INTEGER PRIMARY KEY,
            endpoint_id TEXT NOT NULL,
            event_id TEXT NOT NULL,
            event_sequence INTEGER NOT NULL,
            event_type TEXT NOT NULL,
            body BLOB NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            next_attempt_at REAL,
            lease_until REAL,
            lease_token TEXT,
            UNIQUE (endpoint_id, event_id)
        )""",
        """CREATE INDEX webhook_deliveries_due
            ON webhook_deliveries (endpoint_id, next_attempt_at) WHERE state = 'pending'""",
        "CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_id)",
        """CREATE TABLE webhook_attempts (
            id INTEGER PRIMARY KEY,
            target TEXT NOT NULL,
            event_id TEXT NOT NULL,
            number INTEGER NOT NULL,
            started_at REAL NOT NULL,
            duration REAL NOT NULL,
            status_code INTEGER,
            error TEXT,
            outcome TEXT NOT NULL,
            next_retry_at REAL
        )""",
        "CREATE INDEX webhook_attempts_by_target ON webhook_attempts (target, id)",
        "CREATE INDEX webhook_attempts_by_event ON webhook_attempts (event_id, id)",
        """CREATE TABLE webhook_relays (
            name TEXT PRIMARY KEY,
            cursor INTEGER NOT NULL,
            attempts INTEGER NOT NULL,
            next_attempt_at REAL,
            lease_until REAL,
            lease_token TEXT
        )""",
    ),
    tuple(statement.format(real="REAL") for statement in RETENTION_STEP),
)

_IDLE_CONNECTIONS = 4


class SQLiteWebhookStore(SqlWebhookStore):
    """Endpoints, deliveries, attempts and relay cursors in the SQLite file at ``path``."""

    claim_sql = claim_sql()

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._connections = SQLiteConnections(
            self.path,
            busy_timeout,
            idle=_IDLE_CONNECTIONS,
            closed_error=lambda: sqlite3.ProgrammingError(f"{self!r} is closed."),
        )
        self._pruning = Pruning()
        self._migrate()

    def _connection(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._connections.connection()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._connections.transaction()

    def _sql(self, statement: str) -> str:
        return statement

    def _many(self, connection: Any, statement: str, rows: Any) -> None:
        connection.executemany(statement, rows)

    def _table_exists(self, connection: Any, table: str) -> bool:
        found = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        return found is not None

    def _migrate(self) -> None:
        with self._transaction() as connection:
            self._migrate_in(connection, MIGRATIONS, str(self.path))

    @property
    def schema_version(self) -> int:
        (version,) = self._rows("SELECT version FROM payment_intent_webhooks_schema")[0]
        return int(version)

    def close(self) -> None:
        self._connections.close()

    def __repr__(self) -> str:
        return f"SQLiteWebhookStore({str(self.path)!r})"
