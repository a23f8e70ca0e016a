"""The SQLite store passes the store contract suite, and keeps its schema and data in its file."""

from __future__ import annotations

import itertools
import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from payment_intent.adapters import _sql
from payment_intent.adapters.sqlite import MIGRATIONS, SQLiteStore
from payment_intent.domain.status import Status
from payment_intent.errors import ConcurrencyError, InvalidRequestError
from payment_intent.ports import Commit, ListQuery
from payment_intent.testing.contract import StoreContract, insert, make_event, make_intent


class TestSQLiteStore(StoreContract):
    def make_store(self, tmp_path: Path) -> SQLiteStore:
        return SQLiteStore(tmp_path / "intents.db")


def test_a_new_file_gets_the_current_schema_in_wal_mode(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "new.db") as store:
        assert store.schema_version == len(MIGRATIONS)
    raw = sqlite3.connect(tmp_path / "new.db")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    raw.close()


def test_what_one_store_commits_another_on_the_same_file_reads(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    with SQLiteStore(path) as writer, SQLiteStore(path) as reader:
        intent = insert(writer, make_intent())
        assert reader.load(intent.id) == intent
    with SQLiteStore(path) as reopened:
        assert reopened.load(intent.id) == intent
        assert [e.intent_id for e in reopened.read_events(0, 10)] == [intent.id]


def test_a_later_migration_runs_once_on_an_existing_file_and_keeps_the_data(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    with SQLiteStore(path) as old:
        intent = insert(old, make_intent())

    class Upgraded(SQLiteStore):
        migrations = (
            *MIGRATIONS,
            ("CREATE TABLE payment_intent_notes (intent_id TEXT PRIMARY KEY, note TEXT)",),
        )

    with Upgraded(path) as upgraded:
        assert upgraded.schema_version == len(MIGRATIONS) + 1
        assert upgraded.load(intent.id) == intent
    with Upgraded(path) as again:  # the step is not run twice
        assert again.schema_version == len(MIGRATIONS) + 1


def test_a_file_from_a_newer_library_is_refused_naming_path(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    SQLiteStore(path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    raw.close()
    with pytest.raises(InvalidRequestError) as raised:
        SQLiteStore(path)
    assert raised.value.param == "path"


@pytest.mark.parametrize("path", ["", ":memory:", 3])
def test_a_path_that_is_not_a_file_is_refused(path: object) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        SQLiteStore(path)  # type: ignore[arg-type]
    assert raised.value.param == "path"


@pytest.mark.parametrize("busy_timeout", [-1, "5", True])
def test_a_bad_busy_timeout_is_refused(tmp_path: Path, busy_timeout: object) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        SQLiteStore(tmp_path / "x.db", busy_timeout=busy_timeout)  # type: ignore[arg-type]
    assert raised.value.param == "busy_timeout"


def test_a_closed_store_refuses_work(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "closed.db")
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        store.load("pi_x")


def test_a_writer_blocked_past_busy_timeout_fails_with_lock_timeout_and_writes_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "locked.db"
    with SQLiteStore(path, busy_timeout=0.2) as store:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        intent = make_intent()
        with pytest.raises(ConcurrencyError) as raised:
            store.commit(Commit(intent, 0, (make_event(intent),)))
        assert raised.value.code == "lock_timeout"
        assert store.load(intent.id) is None  # readers are not blocked by the writer in WAL
        blocker.execute("ROLLBACK")
        blocker.close()
        assert store.read_events(0, 10) == []


def _open_and_write(path: str) -> str:
    with SQLiteStore(path) as store:
        return insert(store, make_intent()).id


def test_processes_opening_a_new_file_at_once_all_get_one_schema(tmp_path: Path) -> None:
    path = str(tmp_path / "raced.db")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        ids = pool.map(_open_and_write, [path] * 8)
    with SQLiteStore(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert sorted(i.id for i in store.list_intents(ListQuery(limit=100))) == sorted(ids)


_QUERIES = [
    ListQuery(limit=11, customer=customer, status=status, created_gte=gte, after=after, before=b)
    for customer, status, gte, (after, b) in itertools.product(
        (None, "cus_a"),
        (None, Status.SUCCEEDED),
        (None, 5),
        ((None, None), ((9, "pi_x"), None), (None, (9, "pi_x"))),
    )
]


@pytest.mark.parametrize("query", _QUERIES)
def test_every_list_page_is_one_walk_of_an_index(tmp_path: Path, query: ListQuery) -> None:
    """No filter combination sorts or scans the table, so a page costs the same at any size."""
    with SQLiteStore(tmp_path / "plan.db") as store, store._connection() as connection:
        sql, params = _sql.list_sql(query, "?")
        plan = " ".join(row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    assert "USING INDEX payment_intents_by_" in plan
    assert "TEMP B-TREE" not in plan


def test_the_expiry_sweep_reads_only_the_partial_index_of_live_holds(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "plan.db") as store, store._connection() as connection:
        plan = connection.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM payment_intents INDEXED BY payment_intents_due"
            f" WHERE status = '{_sql.HELD}' AND capture_before_at <= 1"
            " ORDER BY capture_before_at, id LIMIT 5"
        ).fetchall()
        assert [row[3] for row in plan] == [
            "SEARCH payment_intents USING INDEX payment_intents_due (capture_before_at<?)"
        ]
