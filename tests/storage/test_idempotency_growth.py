"""Expired idempotency records are deleted as part of ordinary writes, on every store: keys sent
steadily over three days leave about one day of records (their time to live), not all of them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from payment_intent.adapters.memory import InMemoryStore
from payment_intent.adapters.sqlite import SQLiteStore
from payment_intent.ports import Commit, IdempotencyRecord, Store
from payment_intent.testing.contract import rich_intent

REQUESTS, DAYS, DAY = 50_000, 3, 24 * 3600
START = 1_700_000_000
END = START + DAYS * DAY


#: What a keyed request answers, as the service records it: the whole intent (about 1.8 KB).
_ANSWER = json.dumps({"intent": rich_intent().model_dump(mode="json")})


def keyed_request(n: int) -> Commit:
    """The n-th of REQUESTS keyed requests spread evenly over DAYS days, kept for one day."""
    created = START + n * DAYS * DAY // REQUESTS
    response = json.loads(_ANSWER)  # each request has its own answer, as in the service
    record = IdempotencyRecord(f"order-{n:06d}", f"fp-{n:06d}", created, created + DAY, response)
    return Commit(None, 0, idempotency=record)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store_and_count(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Store, Callable[[], int], int]]:
    """A store, a way to count every record it holds, and how many threads send the requests.

    A PostgreSQL commit is a round trip (about half a millisecond here), so four threads send
    its requests; even so it takes tens of seconds where the others take a few."""
    if request.param == "memory":
        memory = InMemoryStore()
        yield memory, lambda: len(json.loads(memory.snapshot())["idempotency"]), 1
    elif request.param == "sqlite":
        path = tmp_path / "keys.db"
        with SQLiteStore(path) as sqlite_store:
            yield sqlite_store, lambda: _count(sqlite3.connect(path)), 1
    else:
        import psycopg

        from payment_intent.adapters.postgres import PostgresStore

        dsn = request.getfixturevalue("postgres_dsn")
        with PostgresStore(dsn, max_size=4) as postgres_store:
            yield postgres_store, lambda: _count(psycopg.connect(dsn)), 4


def _count(connection: Any) -> int:
    try:
        row = connection.execute("SELECT count(*) FROM payment_intent_idempotency").fetchone()
        return int(row[0])
    finally:
        connection.close()


def test_keys_sent_over_three_days_leave_about_one_day_of_records(
    store_and_count: tuple[Store, Callable[[], int], int],
) -> None:
    store, count, senders = store_and_count
    commits = [keyed_request(n) for n in range(REQUESTS)]
    # Each sender takes every senders-th request, so time still moves forward for every one.
    with ThreadPoolExecutor(senders) as pool:
        list(
            pool.map(
                lambda first: [store.commit(c) for c in commits[first::senders]], range(senders)
            )
        )

    live = sum(
        1 for commit in commits if commit.idempotency and commit.idempotency.expires_at > END
    )
    assert live == REQUESTS // DAYS  # one day of keys is still live at the end
    held = count()
    # Two deletions per write outpace one expiry per write: hardly an expired record is left
    # (a few more when several senders' clocks interleave).
    assert live <= held <= live * 1.02, (held, live)
    last = commits[-1].idempotency
    assert last is not None
    assert store.idempotency_record(last.key) == last
    first = commits[0].idempotency
    assert first is not None
    assert store.idempotency_record(first.key) is None
