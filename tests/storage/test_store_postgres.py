"""The PostgreSQL store passes the store contract suite on a real server, and keeps its schema."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from postgres_server import fresh_schema

from payment_intent import PaymentIntents, store_from_url
from payment_intent.adapters.postgres import list_statement as postgres_list_statement
from payment_intent.domain.status import EventType
from payment_intent.errors import InvalidRequestError
from payment_intent.ports import Commit, IntegrityError, OperationalError
from payment_intent.testing.contract import (
    T0,
    BatchStoreContract,
    advance,
    all_events,
    insert,
    make_event,
    make_intent,
    make_record,
    next_version,
)


def _store(dsn: str, **options: Any) -> Any:
    from payment_intent.adapters.postgres import PostgresStore

    return PostgresStore(dsn, **options)


class TestPostgresStore(BatchStoreContract):
    @pytest.fixture(autouse=True)
    def _dsn(self, postgres_dsn: str) -> None:
        self.dsn = postgres_dsn

    def make_store(self, tmp_path: Path) -> Any:
        return _store(self.dsn, max_size=self.racers + 2)


def test_a_new_schema_gets_the_current_version_and_reopens_with_the_data(
    postgres_dsn: str,
) -> None:
    from payment_intent.adapters.postgres import MIGRATIONS

    with _store(postgres_dsn) as store:
        assert store.schema_version == len(MIGRATIONS)
        intent = insert(store, make_intent())
    with _store(postgres_dsn) as reopened:
        assert reopened.schema_version == len(MIGRATIONS)
        assert reopened.load(intent.id) == intent
        assert [e.sequence for e in reopened.read_events(0, 10)] == [1]


def test_a_later_migration_runs_once_and_keeps_the_data(postgres_dsn: str) -> None:
    from payment_intent.adapters.postgres import MIGRATIONS, PostgresStore

    with _store(postgres_dsn) as old:
        intent = insert(old, make_intent())

    class Upgraded(PostgresStore):
        migrations = (*MIGRATIONS, ("CREATE TABLE payment_intent_notes (intent_id text)",))

    for _ in range(2):
        with Upgraded(postgres_dsn) as upgraded:
            assert upgraded.schema_version == len(MIGRATIONS) + 1
            assert upgraded.load(intent.id) == intent


def test_a_database_from_a_newer_library_is_refused_naming_dsn(postgres_dsn: str) -> None:
    import psycopg

    from payment_intent.adapters.postgres import MIGRATIONS

    _store(postgres_dsn).close()
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute("UPDATE payment_intent_schema SET version = %s", (len(MIGRATIONS) + 3,))
    with pytest.raises(InvalidRequestError) as raised:
        _store(postgres_dsn)
    assert raised.value.param == "dsn"


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"dsn": ""}, "dsn"),
        ({"dsn": "host=x no_such_option=1"}, "dsn"),
        ({"dsn": "host=x", "max_size": 0}, "max_size"),
        ({"dsn": "host=x", "min_size": 3, "max_size": 2}, "min_size"),
        ({"dsn": "host=x", "lock_timeout": 0}, "lock_timeout"),
        ({"dsn": "host=x", "connect_timeout": "1"}, "connect_timeout"),
    ],
)
def test_bad_options_are_refused_naming_the_parameter(
    postgres_server: str, options: dict[str, Any], param: str
) -> None:
    dsn = options.pop("dsn")
    with pytest.raises(InvalidRequestError) as raised:
        _store(dsn, **options)
    assert raised.value.param == param


def test_an_unreachable_server_fails_fast_with_an_operational_error(postgres_server: str) -> None:
    began = time.monotonic()
    with pytest.raises(OperationalError, match="Could not connect"):
        _store("postgresql://nobody@127.0.0.1:1/none", connect_timeout=1)
    assert time.monotonic() - began < 3


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_from_url_opens_a_postgresql_store(postgres_server: str, scheme: str) -> None:
    from payment_intent.adapters.postgres import PostgresStore

    schema_dsn = fresh_schema(postgres_server)
    schema = schema_dsn.rsplit("search_path=", 1)[1].strip("'")
    base = postgres_server.split("://", 1)[1]
    url = f"{scheme}://{base}?options={quote(f'-c search_path={schema}')}"
    service = PaymentIntents.from_url(url)
    assert isinstance(service.store, PostgresStore)
    intent = service.create(amount=1200, currency="eur")
    other = store_from_url(url)
    assert other.load(intent.id) == intent
    other.close()
    service.store.close()


def test_an_event_numbered_later_is_not_visible_before_an_earlier_one_commits(
    postgres_dsn: str,
) -> None:
    """The feed's cursor is safe only if positions are commit-ordered: a writer must not take
    position 2 and commit while position 1 is still in flight, or a reader at 2 would skip 1."""
    import threading

    from payment_intent.adapters.postgres import _statement

    with _store(postgres_dsn) as store:
        first, second = make_intent(), make_intent()
        with store._connection() as held:
            held.execute("BEGIN")
            held.execute(*_statement(Commit(first, 0, (make_event(first),))))  # position taken
            writer = threading.Thread(target=insert, args=(store, second))
            writer.start()
            writer.join(timeout=0.5)
            assert writer.is_alive(), "the second writer must wait for the first to commit"
            assert store.read_events(0, 10) == []
            held.execute("COMMIT")
        writer.join(timeout=10)
        assert not writer.is_alive()
        assert [(e.intent_id, e.sequence) for e in store.read_events(0, 10)] == [
            (first.id, 1),
            (second.id, 2),
        ]


def test_a_writer_blocked_past_lock_timeout_is_an_operational_error_and_writes_nothing(
    postgres_dsn: str,
) -> None:
    import psycopg

    with _store(postgres_dsn, lock_timeout=0.2) as store:
        intent = insert(store, make_intent())
        with psycopg.connect(postgres_dsn) as blocker:  # a transaction holding the intent's row
            blocker.execute("SELECT 1 FROM payment_intents WHERE id = %s FOR UPDATE", (intent.id,))
            after = next_version(intent, description="blocked")
            with pytest.raises(OperationalError, match="lock_timeout"):
                store.commit(Commit(after, 1, (make_event(after),)))
            blocker.rollback()
        assert store.load(intent.id) == intent
        assert len(store.read_events(0, 10)) == 1
        advance(store, intent)  # and the store works on afterwards


def test_a_schema_1_database_migrates_keeping_positions_and_records(postgres_dsn: str) -> None:
    """Rows written the way schema 1 wrote them (positions from the counter row) survive step 2,
    and the one-statement commit continues the positions after them."""
    import psycopg

    from payment_intent.adapters import _sql
    from payment_intent.adapters.postgres import MIGRATIONS, PostgresStore

    class SchemaOne(PostgresStore):
        migrations = MIGRATIONS[:1]

    first = make_intent()
    events = [make_event(first), make_event(first, EventType.SUCCEEDED)]
    record = make_record("key-1")
    with SchemaOne(postgres_dsn) as old:
        assert old.schema_version == 1
    with psycopg.connect(postgres_dsn, autocommit=True) as raw, raw.transaction():
        raw.execute(
            "INSERT INTO payment_intents"
            " (id, version, created, customer, status, capture_before_at, body)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            _sql.intent_row(first),
        )
        for sequence, event in enumerate(events, start=1):
            raw.execute(
                "INSERT INTO payment_intent_events"
                " (sequence, id, intent_id, intent_version, type, created, body)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (sequence, *_sql.event_row(event)),
            )
        raw.execute("UPDATE payment_intent_event_counter SET last_sequence = 2")
        raw.execute(
            "INSERT INTO payment_intent_idempotency"
            " (key, fingerprint, created, expires_at, response) VALUES (%s, %s, %s, %s, %s)",
            _sql.record_row(record),
        )
    with _store(postgres_dsn) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.load(first.id) == first
        assert store.idempotency_record("key-1") == record
        second = insert(store, make_intent())
        feed = all_events(store)
        assert [e.sequence for e in feed] == [1, 2, 3]
        assert [e.id for e in feed[:2]] == [e.id for e in events]
        assert feed[2].intent_id == second.id
        with pytest.raises(IntegrityError) as raised:
            store.commit(Commit(None, 0, idempotency=make_record("key-1")))
        assert "key-1" in str(raised.value)
    with psycopg.connect(postgres_dsn) as raw:
        assert raw.execute("SELECT to_regclass('payment_intent_events_by_intent')").fetchone() == (
            None,
        )


def test_a_conflicting_commit_writes_nothing_of_its_record_or_events(postgres_dsn: str) -> None:
    """The commit is one statement: a stale version rolls back the key and the events with it."""
    with _store(postgres_dsn) as store:
        intent = insert(store, make_intent())
        stale = Commit(
            intent.model_copy(update={"version": 2}),
            1,
            (make_event(intent, EventType.SUCCEEDED),),
            make_record("key-2"),
        )
        advance(store, intent)
        with pytest.raises(IntegrityError) as raised:
            store.commit(stale)
        assert intent.id in str(raised.value)
        assert store.idempotency_record("key-2") is None
        assert [e.sequence for e in all_events(store)] == [1, 2]


@pytest.mark.parametrize("customer", [None, "cus_1"])
def test_a_canceled_page_walks_an_index_not_every_canceled_intent(
    postgres_dsn: str, customer: str | None
) -> None:
    """Canceled is the union of canceled intents and lapsed holds: each arm is limited, so the
    planner walks the index for the first one instead of reading and sorting all of them."""
    from payment_intent.domain.status import Status
    from payment_intent.ports import ListQuery

    with _store(postgres_dsn) as store, store._connection() as connection:
        connection.execute(
            "INSERT INTO payment_intents"
            " (id, version, created, customer, status, capture_before_at, body)"
            " SELECT 'pi_' || n, 1, n, 'cus_' || (n % 10), 'canceled', NULL, '{}'::json"
            " FROM generate_series(1, 20000) AS n"
        )
        connection.execute("ANALYZE payment_intents")
        query = ListQuery(limit=11, now=T0, customer=customer, status=Status.CANCELED)
        sql, params = postgres_list_statement(query)
        plan = "\n".join(row[0] for row in connection.execute(f"EXPLAIN {sql}", params))
    assert "Seq Scan" not in plan, plan
    assert "Index Scan Backward using payment_intents_by_" in plan, plan


def _refund_plan(postgres_dsn: str, query: Any) -> str:
    """PostgreSQL's plan for a page of ``query`` over 20,000 refunds of 500 intents."""
    from payment_intent.adapters import _sql

    with _store(postgres_dsn) as store, store._connection() as connection:
        connection.execute(
            "INSERT INTO payment_intent_refunds (id, intent_id, charge_id, created)"
            " SELECT 're_' || n, 'pi_' || (n % 500), 'ch_' || (n % 500), n"
            " FROM generate_series(1, 20000) AS n"
        )
        connection.execute("VACUUM ANALYZE payment_intent_refunds")
        sql, params = _sql.refunds_sql(query, "%s")
        return "\n".join(row[0] for row in connection.execute(f"EXPLAIN {sql}", params))


_AFTER, _BEFORE = (15000, "re_15000"), (5000, "re_5000")


@pytest.mark.parametrize(
    ("payment_intent", "charge", "after", "before"),
    [
        (None, None, None, None),
        (None, None, _AFTER, None),
        (None, None, None, _BEFORE),
        ("pi_7", None, _AFTER, None),
        ("pi_7", None, None, _BEFORE),
        (None, "ch_7", None, None),
        (None, "ch_7", None, _BEFORE),
    ],
)
def test_a_page_of_all_an_intents_or_a_charges_refunds_is_an_index_only_walk(
    postgres_dsn: str,
    payment_intent: str | None,
    charge: str | None,
    after: tuple[int, str] | None,
    before: tuple[int, str] | None,
) -> None:
    """Over many refunds, such a page walks one refund index in order and stops when it is full."""
    from payment_intent.ports import RefundQuery

    query = RefundQuery(
        11, payment_intent=payment_intent, charge=charge, after=after, before=before
    )
    plan = _refund_plan(postgres_dsn, query)
    assert "Index Only Scan" in plan, plan
    assert "using payment_intent_refunds_by_" in plan, plan
    assert "Sort" not in plan, plan


def test_a_page_of_one_intents_refunds_of_one_charge_reads_that_charges_refunds_at_most(
    postgres_dsn: str,
) -> None:
    """With both filters the planner may combine the two indexes and sort what they find: the
    refunds of one charge (of one intent), never the table's."""
    from payment_intent.ports import RefundQuery

    query = RefundQuery(11, payment_intent="pi_7", charge="ch_7", after=_AFTER)
    plan = _refund_plan(postgres_dsn, query)
    assert "Seq Scan" not in plan, plan
    assert "Index Cond: ((charge_id = 'ch_7'::text)" in plan, plan


def test_a_schema_3_database_gains_the_refund_index_with_the_refunds_its_intents_hold(
    postgres_dsn: str,
) -> None:
    """Step 4 fills the refund index from the intents' bodies: an intent written before it (here
    holding a refund, as a build without the index may have written it) is found by its refund."""
    import psycopg

    from payment_intent.adapters import _sql
    from payment_intent.adapters.postgres import MIGRATIONS, PostgresStore
    from payment_intent.ports import RefundQuery
    from payment_intent.testing.contract import add_refunds, make_refund, paid_intent

    class SchemaThree(PostgresStore):
        migrations = MIGRATIONS[:3]

    with SchemaThree(postgres_dsn) as old:
        plain = insert(old, make_intent())
    paid = paid_intent()
    early = make_refund(paid)
    refunded = paid.model_copy(update={"refunds": (early,)})
    with psycopg.connect(postgres_dsn, autocommit=True) as raw:
        raw.execute(
            "INSERT INTO payment_intents"
            " (id, version, created, customer, status, capture_before_at, body)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            _sql.intent_row(refunded),
        )
    with _store(postgres_dsn) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.load(plain.id) == plain
        assert store.load(paid.id) == refunded
        assert store.refund_owner(early.id) == paid.id
        assert store.refund_owner("re_missing") is None
        later = make_refund(refunded, created=early.created + 1)
        add_refunds(store, refunded, later)
        assert store.list_refunds(RefundQuery(limit=10, charge=early.charge)) == [
            (later.id, paid.id),
            (early.id, paid.id),
        ]
