"""PostgreSQL failures are typed, bounded and recoverable: a server that is down is an
OperationalError within a moment, the store works again as soon as the server is back, a command
whose connection broke is repeated only when that is safe, and what the database cannot hold is a
DataError. Claims hold against writers racing inside the database, not just before it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

psycopg = pytest.importorskip("psycopg")  # the postgres extra; without it these tests skip

from postgres_server import Cluster, restartable_cluster  # noqa: E402

from payment_intent import ManualClock, PaymentIntents  # noqa: E402
from payment_intent.adapters.postgres import PostgresStore, _statement  # noqa: E402
from payment_intent.errors import PaymentIntentError  # noqa: E402
from payment_intent.ports import Commit, DataError, IntegrityError, OperationalError  # noqa: E402
from payment_intent.testing.contract import (  # noqa: E402
    T0,
    advance,
    all_events,
    insert,
    make_claim,
    make_event,
    make_intent,
    make_record,
    next_version,
)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A server of this test's own, which it may stop and start."""
    with restartable_cluster() as started:
        yield started


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except Exception as error:  # collected: the test judges it
        return error


def test_a_restart_is_a_quick_operational_error_while_down_and_the_first_call_after_succeeds(
    cluster: Cluster,
) -> None:
    with PostgresStore(cluster.dsn, min_size=3, max_size=3) as store:
        service = PaymentIntents(store, ManualClock(T0))
        intent = service.create(amount=1_000, currency="usd", capture_method="manual")
        cluster.stop()  # ends every session: all three idle connections are dead now
        began = time.monotonic()
        with pytest.raises(OperationalError, match="Could not connect") as raised:
            store.load(intent.id)
        while_down = time.monotonic() - began
        assert isinstance(raised.value.__cause__, psycopg.OperationalError)  # kept as the cause
        assert while_down < 1.0, f"a call while the server is down took {while_down:.2f} s"
        with pytest.raises(OperationalError):
            store.commit(Commit(next_version(intent), 1))
        # Through the service it is the API's typed, retryable error.
        with pytest.raises(PaymentIntentError) as api_error:
            service.retrieve(intent.id)
        assert (api_error.value.type, api_error.value.http_status) == ("api_error", 503)
        assert api_error.value.code == "storage_unavailable"
        assert "retr" in api_error.value.message.lower()  # it says the request may be retried

        cluster.start()
        restarted = time.monotonic()
        assert store.load(intent.id) == intent
        recovered = time.monotonic() - restarted
        assert recovered < 1.0, f"the first call after the restart took {recovered:.2f} s"
        assert service.update(intent.id, description="after the outage").version == 2


def test_a_commit_whose_connection_broke_before_it_ran_is_sent_once_more(
    postgres_dsn: str,
) -> None:
    """The server ends the session while the commit waits for a row lock: nothing was written,
    so the store sends the commit again on a fresh connection, and it is stored once."""
    with PostgresStore(postgres_dsn, max_size=4) as store:
        intent = insert(store, make_intent())
        after = next_version(intent, description="survived")
        with psycopg.connect(postgres_dsn) as blocker, psycopg.connect(postgres_dsn) as admin:
            blocker.execute("SELECT 1 FROM payment_intents WHERE id = %s FOR UPDATE", (intent.id,))
            outcome: list[Any] = []
            writer = threading.Thread(
                target=lambda: outcome.append(
                    _outcome(lambda: store.commit(Commit(after, 1, (make_event(after),))))
                )
            )
            writer.start()
            waiting = _wait_for(lambda: _backends_waiting_for_a_lock(admin))
            admin.execute("SELECT pg_terminate_backend(%s)", (waiting[0],))
            time.sleep(0.1)  # the repeated commit now waits for the same lock
            blocker.rollback()
            writer.join(timeout=10)
        assert outcome == [None]
        assert store.load(intent.id) == after
        assert [e.intent_version for e in all_events(store)] == [1, 2]


def test_a_commit_that_landed_before_its_connection_broke_is_not_sent_again(
    postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit is stored and the server goes away before it says so: the store finds the
    commit on a fresh connection and reports success instead of committing it twice."""
    with PostgresStore(postgres_dsn, max_size=4) as store:
        intent = insert(store, make_intent())
        take = store._connections.take

        def dies_after_committing() -> Any:
            return _DiesAfterCommitting(take())

        monkeypatch.setattr(store._connections, "take", dies_after_committing)
        after = next_version(intent, description="once")
        store.commit(Commit(after, 1, (make_event(after),), make_record("k", created=T0 + 1)))
        monkeypatch.undo()
        assert store.load(intent.id) == after
        assert [e.intent_version for e in all_events(store)] == [1, 2]
        assert store.idempotency_record("k") == make_record("k", created=T0 + 1)


class _DiesAfterCommitting:
    """A connection whose server ends the session right after it runs a commit statement."""

    def __init__(self, inner: psycopg.Connection[Any]) -> None:
        self._inner = inner

    def execute(self, query: Any, params: Any = None, **options: Any) -> Any:
        result = self._inner.execute(query, params, **options)
        if isinstance(query, str) and query.startswith("WITH"):
            self._inner.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _backends_waiting_for_a_lock(admin: psycopg.Connection[Any]) -> list[int]:
    rows = admin.execute(
        "SELECT pid FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    ).fetchall()
    return [pid for (pid,) in rows]


def _wait_for(found: Callable[[], list[int]]) -> list[int]:
    deadline = time.monotonic() + 10
    while not (result := found()):
        assert time.monotonic() < deadline, "nothing came"
        time.sleep(0.02)
    return result


def test_a_connection_ended_while_idle_is_replaced_without_an_error(postgres_dsn: str) -> None:
    dsn = f"{postgres_dsn} application_name=ended_while_idle"
    with PostgresStore(dsn, min_size=2, max_size=2) as store:
        intent = insert(store, make_intent())
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:
            ended = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'ended_while_idle'"
            ).fetchall()
        assert len(ended) == 2
        time.sleep(0.1)
        assert store.load(intent.id) == intent
        assert advance(store, intent).version == 2


def test_waiting_for_a_free_connection_ends_at_connect_timeout(postgres_dsn: str) -> None:
    store = PostgresStore(postgres_dsn, max_size=1, connect_timeout=0.3)
    with store, store._connection():
        began = time.monotonic()
        with pytest.raises(OperationalError, match="all 1 are in use"):
            store.load("pi_x")
        assert 0.25 < time.monotonic() - began < 2


@pytest.mark.parametrize(
    "commit",
    [
        Commit(make_intent(id="pi_nul\x00"), 0),
        Commit(make_intent(customer="cus\x00"), 0),
        Commit(None, 0, idempotency=make_record("key\x00")),
        Commit(make_intent(created=2**64), 0),
    ],
    ids=["id", "customer", "key", "created"],
)
def test_a_nul_character_or_a_huge_integer_is_a_data_error(
    postgres_dsn: str, commit: Commit
) -> None:
    with PostgresStore(postgres_dsn) as store:
        with pytest.raises(DataError, match="PostgreSQL cannot hold") as raised:
            store.commit(commit)
        assert isinstance(raised.value.__cause__, psycopg.DataError)
        with pytest.raises(DataError):
            store.load("pi_nul\x00")
        assert all_events(store) == []


def test_an_update_racing_a_claim_in_flight_waits_for_it_and_then_loses(
    postgres_dsn: str,
) -> None:
    """The claim is taken in an open transaction: the update's snapshot cannot see it, yet it
    must not write (the claim marks the intent's row, which the update waits for)."""
    with PostgresStore(postgres_dsn, max_size=4) as store:
        intent = insert(store, make_intent())
        claim = make_claim(intent.id, 1)
        outcome = _race_with_open(
            store, Commit(None, 0, claim=claim), lambda: advance(store, intent)
        )
        assert isinstance(outcome, IntegrityError)
        assert store.claim(intent.id) == claim
        assert store.load(intent.id) == intent


def test_a_record_racing_a_claim_of_its_key_in_flight_waits_for_it_and_then_loses(
    postgres_dsn: str,
) -> None:
    with PostgresStore(postgres_dsn, max_size=4) as store:
        one, two = insert(store, make_intent()), insert(store, make_intent())
        claim = make_claim(one.id, 1, key="k")
        changed = next_version(two)
        record_commit = Commit(changed, 1, (make_event(changed),), make_record("k", T0 + 1))
        outcome = _race_with_open(
            store, Commit(None, 0, claim=claim), lambda: store.commit(record_commit)
        )
        assert isinstance(outcome, IntegrityError)
        assert store.claim_for_key("k") == claim
        assert store.idempotency_record("k") is None
        assert store.load(two.id) == two


def test_a_claim_racing_a_record_of_its_key_in_flight_waits_for_it_and_then_loses(
    postgres_dsn: str,
) -> None:
    with PostgresStore(postgres_dsn, max_size=4) as store:
        one, two = insert(store, make_intent()), insert(store, make_intent())
        changed = next_version(two)
        record = make_record("k", T0 + 1)
        claim = make_claim(one.id, 1, key="k", created=T0 + 2)
        outcome = _race_with_open(
            store,
            Commit(changed, 1, (make_event(changed),), record),
            lambda: store.commit(Commit(None, 0, claim=claim)),
        )
        assert isinstance(outcome, IntegrityError)
        assert store.idempotency_record("k") == record
        assert store.claim(one.id) is None


def _race_with_open(store: PostgresStore, first: Commit, second: Callable[[], Any]) -> Any:
    """Run ``first`` in a transaction left open, start ``second``, check that it waits, commit
    ``first``; returns what ``second`` returned or raised."""
    outcome: list[Any] = []
    with store._connection() as held:
        held.execute("BEGIN")
        held.execute(*_statement(first))
        racer = threading.Thread(target=lambda: outcome.append(_outcome(second)))
        racer.start()
        racer.join(timeout=0.5)
        assert racer.is_alive(), "the second writer must wait for the first to commit"
        held.execute("COMMIT")
    racer.join(timeout=10)
    assert not racer.is_alive()
    return outcome[0]
