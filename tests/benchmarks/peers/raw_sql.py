"""The ceiling for a durable store: raw ``sqlite3`` (or psycopg), one commit per checkout step.

Manual capture is three transactions (insert the intent row, update it on confirm, update it on
capture), automatic two: the same number the library's SQL stores commit, without the events,
idempotency records, version checks or JSON body they also write.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from itertools import count
from pathlib import Path
from typing import Any

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS raw_intents (id TEXT PRIMARY KEY, status TEXT NOT NULL,"
    " amount INTEGER NOT NULL, currency TEXT NOT NULL, capture_method TEXT NOT NULL,"
    " payment_method TEXT, amount_capturable INTEGER NOT NULL DEFAULT 0,"
    " amount_received INTEGER NOT NULL DEFAULT 0)"
)
INSERT = (
    "INSERT INTO raw_intents (id, status, amount, currency, capture_method)"
    " VALUES ({p}, 'requires_payment_method', 120000, 'eur', {p})"
)
CONFIRM_MANUAL = (
    "UPDATE raw_intents SET status = 'requires_capture', payment_method = 'pm_card_visa',"
    " amount_capturable = amount WHERE id = {p} AND status = 'requires_payment_method'"
)
CONFIRM_AUTOMATIC = (
    "UPDATE raw_intents SET status = 'succeeded', payment_method = 'pm_card_visa',"
    " amount_received = amount WHERE id = {p} AND status = 'requires_payment_method'"
)
CAPTURE = (
    "UPDATE raw_intents SET status = 'succeeded', amount_received = 100000,"
    " amount_capturable = 0 WHERE id = {p} AND status = 'requires_capture'"
)

_ids = count()


def _statements(placeholder: str) -> tuple[str, str, str, str]:
    return tuple(  # type: ignore[return-value]
        s.format(p=placeholder) for s in (INSERT, CONFIRM_MANUAL, CONFIRM_AUTOMATIC, CAPTURE)
    )


class _Raw(ABC):
    """A checkout as its steps, each one statement in its own transaction (``_step``)."""

    connection: Any
    insert: str
    confirm_manual: str
    confirm_automatic: str
    capture: str

    @abstractmethod
    def _step(self, sql: str, params: tuple[Any, ...]) -> None:
        """Run ``sql`` in a transaction of its own; it must change exactly one row."""

    def run(self, checkouts: int, manual: bool) -> None:
        for _ in range(checkouts):
            intent_id = f"pi_raw{next(_ids)}"
            self._step(self.insert, (intent_id, "manual" if manual else "automatic"))
            if manual:
                self._step(self.confirm_manual, (intent_id,))
                self._step(self.capture, (intent_id,))
            else:
                self._step(self.confirm_automatic, (intent_id,))

    def close(self) -> None:
        self.connection.close()


class RawSQLite(_Raw):
    """One connection, WAL and synchronous=NORMAL (the library's SQLiteStore settings)."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute("PRAGMA journal_mode = WAL")
        self.connection.execute("PRAGMA synchronous = NORMAL")
        self.connection.execute(SCHEMA)
        self.insert, self.confirm_manual, self.confirm_automatic, self.capture = _statements("?")

    def _step(self, sql: str, params: tuple[Any, ...]) -> None:
        execute = self.connection.execute
        execute("BEGIN IMMEDIATE")
        if execute(sql, params).rowcount != 1:
            raise AssertionError(f"{sql} changed no row")
        execute("COMMIT")


class RawPostgres(_Raw):
    """One psycopg connection, autocommit off: each step is its own transaction and commit."""

    def __init__(self, dsn: str) -> None:
        import psycopg

        self.connection = psycopg.connect(dsn, autocommit=True)
        self.connection.execute(SCHEMA.replace("INTEGER", "BIGINT"))
        self.connection.autocommit = False
        self.insert, self.confirm_manual, self.confirm_automatic, self.capture = _statements("%s")

    def _step(self, sql: str, params: tuple[Any, ...]) -> None:
        with self.connection.transaction():
            if self.connection.execute(sql, params).rowcount != 1:
                raise AssertionError(f"{sql} changed no row")
