"""The connections both SQLite stores keep to their file: reused up to ``idle``, refused once
closed, writes in one IMMEDIATE transaction, and a file that stays out of WAL mode refused when
the owner says so."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

import pytest

from payment_intent.adapters.sqlite_connections import SQLiteConnections


def _connections(
    path: Path | str,
    *,
    pragmas: Sequence[str] = (),
    not_wal_error: Callable[[str], Exception] | None = None,
) -> SQLiteConnections:
    return SQLiteConnections(
        path,
        5.0,
        idle=2,
        pragmas=pragmas,
        closed_error=lambda: RuntimeError("closed"),
        not_wal_error=not_wal_error,
    )


def test_a_new_connection_is_in_wal_mode_with_the_owners_pragmas(tmp_path: Path) -> None:
    connections = _connections(tmp_path / "x.db", pragmas=["PRAGMA cache_size = -1234"])
    with connections.connection() as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert connection.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        assert connection.execute("PRAGMA cache_size").fetchone()[0] == -1234
    connections.close()


def test_at_most_idle_connections_are_kept_for_the_next_calls(tmp_path: Path) -> None:
    connections = _connections(tmp_path / "x.db")
    with ExitStack() as stack:
        first = [stack.enter_context(connections.connection()) for _ in range(3)]
    with ExitStack() as stack:
        second = [stack.enter_context(connections.connection()) for _ in range(3)]
    assert sum(any(c is f for f in first) for c in second) == 2
    connections.close()


def test_a_closed_pool_refuses_with_its_owners_error_and_closes_what_comes_back(
    tmp_path: Path,
) -> None:
    connections = _connections(tmp_path / "x.db")
    with connections.connection() as lent:
        connections.close()
    with pytest.raises(sqlite3.ProgrammingError):
        lent.execute("SELECT 1")
    with pytest.raises(RuntimeError, match="closed"), connections.connection():
        pass


def test_a_transaction_commits_its_block_or_nothing_of_it(tmp_path: Path) -> None:
    connections = _connections(tmp_path / "x.db")
    with connections.transaction() as connection:
        connection.execute("CREATE TABLE t (n INTEGER)")

    def insert_then_fail() -> None:
        with connections.transaction() as connection:
            connection.execute("INSERT INTO t VALUES (1)")
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        insert_then_fail()
    with connections.connection() as connection:
        assert not connection.in_transaction
        assert connection.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    connections.close()


def test_a_file_out_of_wal_mode_is_refused_only_when_the_owner_says_so() -> None:
    refusing = _connections(":memory:", not_wal_error=lambda mode: ValueError(mode))
    with pytest.raises(ValueError, match="memory"), refusing.connection():
        pass
    accepting = _connections(":memory:")
    with accepting.connection() as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "memory"
    accepting.close()
