"""The SQLite store passes the store contract suite, and keeps its schema and data in its file."""

from __future__ import annotations

import itertools
import multiprocessing
import sqlite3
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from payment_intent.adapters import _sql
from payment_intent.adapters.sqlite import MIGRATIONS, SQLiteStore
from payment_intent.adapters.sqlite import list_statement as sqlite_list_statement
from payment_intent.domain.model import Event, PaymentIntent
from payment_intent.domain.status import EventType, Status
from payment_intent.errors import InvalidRequestError
from payment_intent.ports import (
    Commit,
    DataError,
    IdempotencyRecord,
    IntegrityError,
    ListQuery,
    OperationalError,
    RefundQuery,
    StorageError,
)
from payment_intent.testing.contract import (
    BatchStoreContract,
    add_refunds,
    advance,
    all_events,
    insert,
    make_claim,
    make_event,
    make_intent,
    make_record,
    make_refund,
    next_version,
    paid_intent,
)


class TestSQLiteStore(BatchStoreContract):
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


def test_a_closed_store_refuses_work_with_a_storage_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "closed.db")
    store.close()
    with pytest.raises(StorageError, match="closed"):
        store.load("pi_x")


def test_a_writer_blocked_past_busy_timeout_is_an_operational_error_and_writes_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "locked.db"
    with SQLiteStore(path, busy_timeout=0.2) as store:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        intent = make_intent()
        began = time.monotonic()
        with pytest.raises(OperationalError, match="busy_timeout") as raised:
            store.commit(Commit(intent, 0, (make_event(intent),)))
        assert 0.15 < time.monotonic() - began < 5
        assert isinstance(raised.value.__cause__, sqlite3.OperationalError)
        assert store.load(intent.id) is None  # readers are not blocked by the writer in WAL
        blocker.execute("ROLLBACK")
        blocker.close()
        assert store.read_events(0, 10) == []


def _open_and_write(path: str, start_at: float) -> str:
    time.sleep(max(0.0, start_at - time.time()))
    with SQLiteStore(path) as store:
        return insert(store, make_intent()).id


def test_processes_opening_a_new_file_at_once_all_get_one_schema(tmp_path: Path) -> None:
    """Switching a new file to WAL needs it to itself, and SQLite does not wait for that."""
    context = multiprocessing.get_context("forkserver")  # children start in milliseconds
    context.set_forkserver_preload(["payment_intent"])
    for attempt in range(2):
        path = str(tmp_path / f"raced-{attempt}.db")
        start_at = time.time() + 0.5
        with ProcessPoolExecutor(6, mp_context=context) as pool:
            ids = list(pool.map(_open_and_write, [path] * 6, [start_at] * 6))
        with SQLiteStore(path) as store:
            assert store.schema_version == len(MIGRATIONS)
            assert sorted(i.id for i in store.list_intents(ListQuery(limit=100, now=0))) == sorted(
                ids
            )


_QUERIES = [
    ListQuery(
        limit=11, now=7, customer=customer, status=status, created_gte=gte, after=after, before=b
    )
    for customer, status, gte, (after, b) in itertools.product(
        (None, "cus_a"),
        (None, Status.SUCCEEDED, Status.REQUIRES_CAPTURE, Status.CANCELED),
        (None, 5),
        ((None, None), ((9, "pi_x"), None), (None, (9, "pi_x"))),
    )
]


def _plan(store: SQLiteStore, query: ListQuery) -> list[str]:
    sql, params = sqlite_list_statement(query)
    with store._connection() as connection:
        return [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params)]


@pytest.mark.parametrize("query", _QUERIES)
def test_every_list_page_walks_an_index_and_sorts_only_lapsed_holds(
    tmp_path: Path, query: ListQuery
) -> None:
    """No filter combination sorts or scans the table, so a page costs the same at any size. The
    canceled and succeeded filters also read the lapsed holds through the expiry index and sort
    those: the holds the sweep has not yet expired (which end as one or the other)."""
    with SQLiteStore(tmp_path / "plan.db") as store:
        plan = _plan(store, query)
    walks = [step for step in plan if step.startswith(("SEARCH", "SCAN")) and "USING INDEX" in step]
    assert "SCAN payment_intents" not in plan, plan  # a walk of the table itself
    if query.status in (Status.CANCELED, Status.SUCCEEDED):
        assert plan[0] == "MERGE (UNION ALL)", plan
        assert "payment_intents_by_" in walks[0], plan
        assert "payment_intents_due (capture_before_at<?)" in walks[1], plan
        # The one sort is of the lapsed arm, the right-hand side of the merge.
        assert plan.count("USE TEMP B-TREE FOR ORDER BY") == 1, plan
        assert plan.index("USE TEMP B-TREE FOR ORDER BY") > plan.index("RIGHT"), plan
    else:
        (walk,) = walks
        assert "payment_intents_by_" in walk, plan
        assert not [step for step in plan if "TEMP B-TREE" in step], plan


_REFUND_QUERIES = [
    RefundQuery(limit=11, payment_intent=intent, charge=charge, after=after, before=before)
    for intent, charge, (after, before) in itertools.product(
        (None, "pi_x"),
        (None, "ch_x"),
        ((None, None), ((9, "re_x"), None), (None, (9, "re_x")), ((9, "re_x"), (3, "re_y"))),
    )
]


@pytest.mark.parametrize("query", _REFUND_QUERIES)
def test_every_refund_page_is_a_walk_of_one_covering_index(
    tmp_path: Path, query: RefundQuery
) -> None:
    """A page of refunds reads its own index entries and nothing else: no sort, no table."""
    sql, params = _sql.refunds_sql(query, "?")
    with SQLiteStore(tmp_path / "plan.db") as store, store._connection() as connection:
        plan = [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    (walk,) = plan
    if query.charge is not None:
        index = "by_charge (charge_id=?"
    elif query.payment_intent is not None:
        index = "by_intent (intent_id=?"
    else:
        index = "by_created"
    assert f"USING COVERING INDEX payment_intent_refunds_{index}" in walk, plan


def test_a_schema_3_file_gains_the_refund_index_with_the_refunds_its_intents_hold(
    tmp_path: Path,
) -> None:
    """Step 4 adds the refund index and fills it from the bodies: an intent written before the
    step (here with a refund, as a build without the index may have written it) is found by its
    refund, and later commits index theirs."""
    path = tmp_path / "v3.db"

    class SchemaThree(SQLiteStore):
        migrations = MIGRATIONS[:3]

    with SchemaThree(path) as old:
        plain = insert(old, make_intent())
    paid = paid_intent()
    early = make_refund(paid)
    refunded = paid.model_copy(update={"refunds": (early,)})
    _write_rows(path, [refunded], [], [])
    with SQLiteStore(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.load(plain.id) == plain
        assert store.load(paid.id) == refunded
        assert store.refund_owner(early.id) == paid.id
        assert store.refund_owner("re_missing") is None
        later = make_refund(refunded, created=early.created + 1)
        add_refunds(store, refunded, later)
        assert store.list_refunds(RefundQuery(limit=10, payment_intent=paid.id)) == [
            (later.id, paid.id),
            (early.id, paid.id),
        ]


def test_an_integer_beyond_64_bits_is_a_data_error_and_writes_nothing(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "big.db") as store:
        intent = make_intent(created=2**63)
        with pytest.raises(DataError, match="SQLite cannot hold") as raised:
            store.commit(Commit(intent, 0, (make_event(intent),), make_record("k")))
        assert isinstance(raised.value.__cause__, OverflowError)
        assert store.load(intent.id) is None
        assert store.read_events(0, 10) == []
        assert store.idempotency_record("k") is None
        insert(store, make_intent(created=2**63 - 1))  # the largest that fits is kept


def test_a_lone_surrogate_is_a_data_error(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "surrogate.db") as store:
        with pytest.raises(DataError):
            store.commit(Commit(None, 0, idempotency=make_record("k\udc80")))
        with pytest.raises(DataError):
            store.load("pi_\ud800")


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


def test_opening_waits_while_another_connection_holds_a_new_file(tmp_path: Path) -> None:
    """Switching to WAL needs the file to itself; SQLite refuses at once, the store waits."""
    path = tmp_path / "held.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(0.3, lambda: holder.execute("ROLLBACK"))
    release.start()
    try:
        with SQLiteStore(path, busy_timeout=10) as store:
            assert store.schema_version == len(MIGRATIONS)
    finally:
        release.join()
        holder.close()


def test_opening_a_file_held_past_busy_timeout_is_an_operational_error(tmp_path: Path) -> None:
    path = tmp_path / "held.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(OperationalError, match="busy_timeout"):
            SQLiteStore(path, busy_timeout=0.2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_schema_1_file_migrates_to_fewer_b_trees_keeping_positions_and_records(
    tmp_path: Path,
) -> None:
    """Step 2 rebuilds the event table without AUTOINCREMENT and drops an unread index: every
    event keeps its position, and new ones continue after the last."""
    path = tmp_path / "v1.db"

    class SchemaOne(SQLiteStore):
        migrations = MIGRATIONS[:1]

    with SchemaOne(path) as old:
        assert old.schema_version == 1
    first = make_intent()
    second = next_version(first, status=Status.SUCCEEDED)
    events_before = [
        make_event(first).model_copy(update={"sequence": 1}),
        make_event(second, EventType.SUCCEEDED).model_copy(update={"sequence": 2}),
    ]
    _write_rows(path, [second], events_before, [make_record("key-1")])
    with SQLiteStore(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.load(first.id) == second
        assert all_events(store) == events_before
        assert store.idempotency_record("key-1") == make_record("key-1")
        third = insert(store, make_intent())
        assert [e.sequence for e in all_events(store)] == [1, 2, 3]
        assert store.read_events(2, 10)[0].intent_id == third.id
        assert store.event_position(events_before[0].id) == 1
    raw = sqlite3.connect(path)
    tables = {name for (name,) in raw.execute("SELECT name FROM sqlite_schema")}
    raw.close()
    assert "payment_intent_events_by_intent" not in tables
    assert "payment_intent_events_2" not in tables
    assert (
        "sqlite_sequence" not in tables
        or not sqlite3.connect(path)
        .execute("SELECT 1 FROM sqlite_sequence WHERE name = 'payment_intent_events'")
        .fetchone()
    )


def test_a_command_that_keeps_customer_and_created_leaves_their_indexes_alone(
    tmp_path: Path,
) -> None:
    """The narrow update is the common case, and a changed customer still reaches every index."""
    with SQLiteStore(tmp_path / "narrow.db") as store:
        intent = insert(store, make_intent(customer="cus_a"))
        held = advance(store, intent, status=Status.REQUIRES_CAPTURE)
        moved = advance(store, held, customer="cus_b", status=Status.SUCCEEDED)
        assert store.load(intent.id) == moved
        assert store.list_intents(ListQuery(limit=10, now=0, customer="cus_a")) == []
        assert store.list_intents(ListQuery(limit=10, now=0, customer="cus_b")) == [moved]
        assert store.list_intents(
            ListQuery(limit=10, now=0, customer="cus_b", status=Status.SUCCEEDED)
        )
        with pytest.raises(IntegrityError):
            advance(store, held, customer="cus_c")  # a stale version fails on either path
        with pytest.raises(IntegrityError):
            advance(store, held)
        assert store.load(intent.id) == moved


def test_a_schema_2_file_gains_claims_and_the_expiry_index_keeping_its_records(
    tmp_path: Path,
) -> None:
    """Step 3 adds the claims table and an index on expires_at; records written before it are
    found by the purge through that index."""
    path = tmp_path / "v2.db"

    class SchemaTwo(SQLiteStore):
        migrations = MIGRATIONS[:2]

    with SchemaTwo(path) as old:
        assert old.schema_version == 2
    intent = make_intent()
    _write_rows(path, [intent], [], [make_record("old-key", created=1_000)])
    with SQLiteStore(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.load(intent.id) == intent
        assert store.idempotency_record("old-key") == make_record("old-key", created=1_000)
        store.commit(Commit(None, 0, claim=make_claim(intent.id, 1, key="k")))
        assert store.claim_for_key("k") == make_claim(intent.id, 1, key="k")
        assert store.purge_idempotency(1_000 + 24 * 3600, 10) == 1
    raw = sqlite3.connect(path)
    plan = raw.execute(
        "EXPLAIN QUERY PLAN SELECT rowid FROM payment_intent_idempotency"
        " WHERE expires_at <= 5 ORDER BY expires_at LIMIT 2"
    ).fetchall()
    raw.close()
    assert "USING COVERING INDEX payment_intent_idempotency_by_expiry" in plan[0][3]


def _write_rows(
    path: Path, intents: list[PaymentIntent], events: list[Event], records: list[IdempotencyRecord]
) -> None:
    """Rows as an older schema holds them, written without the current store's statements."""
    raw = sqlite3.connect(path)
    with raw:
        raw.executemany(
            "INSERT INTO payment_intents"
            " (id, version, created, customer, status, capture_before_at, body)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [_sql.intent_row(intent) for intent in intents],
        )
        raw.executemany(
            "INSERT INTO payment_intent_events"
            " (sequence, id, intent_id, intent_version, type, created, body)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(event.sequence, *_sql.event_row(event)) for event in events],
        )
        raw.executemany(
            "INSERT INTO payment_intent_idempotency"
            " (key, fingerprint, created, expires_at, response) VALUES (?, ?, ?, ?, ?)",
            [_sql.record_row(record) for record in records],
        )
    raw.close()
