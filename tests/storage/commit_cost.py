"""What a store's commit costs, beside bare sqlite3 doing less and doing the same.

Not a test (pytest collects only ``test_*.py``): run it and read the figures.

    python tests/storage/commit_cost.py                  # 2,000 checkouts, 5 repeats
    python tests/storage/commit_cost.py --checkouts 500 --repeats 3
    python tests/storage/commit_cost.py --dsn postgresql://...   # PostgreSQL per-commit latency too

The commits of manual-capture checkouts (create, confirm, capture; each with an idempotency key and
one event) are built once through ``PaymentIntents`` on an in-memory store, so the domain's cost
is left out. Each repeat then replays them, on fresh files, with:

* **raw**: bare ``sqlite3`` (WAL, ``synchronous=NORMAL``) storing the intent alone: one table
  with a primary key, an insert and two updates, one commit each (the issue's ceiling);
* **same rows**: bare ``sqlite3`` running the store's own statements on the store's schema (the
  intent with its indexes, the event, the idempotency record), bodies serialised beforehand;
* **store**: ``SQLiteStore.commit``.

The order of the three alternates between repeats; the figures are medians of microseconds per
checkout (three commits).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from payment_intent import ManualClock, PaymentIntents, SQLiteStore
from payment_intent.adapters import _sql
from payment_intent.adapters import sqlite as sqlite_store
from payment_intent.adapters.memory import InMemoryStore
from payment_intent.ports import Commit


class Recording(InMemoryStore):
    """An in-memory store that keeps every commit it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.commits: list[Commit] = []

    def commit(self, commit: Commit) -> None:
        super().commit(commit)
        self.commits.append(commit)


def checkout_commits(count: int) -> list[Commit]:
    recording = Recording()
    service = PaymentIntents(recording, ManualClock(1_800_000_000))
    for n in range(count):
        intent = service.create(
            amount=5_000 + n,
            currency="usd",
            customer=f"cus_{n % 5000:05d}",
            capture_method="manual",
            idempotency_key=f"checkout-{n}-create",
        )
        service.confirm(
            intent.id, payment_method="pm_card_visa", idempotency_key=f"checkout-{n}-confirm"
        )
        service.capture(intent.id, idempotency_key=f"checkout-{n}-capture")
    return recording.commits


def raw(path: Path, commits: list[Commit]) -> float:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute("CREATE TABLE intents (id TEXT PRIMARY KEY, version INTEGER, body TEXT)")
    connection.commit()
    rows = []
    for commit in commits:
        assert commit.intent is not None
        rows.append((commit.intent.id, commit.intent.version, commit.intent.model_dump_json()))
    began = time.perf_counter()
    for intent_id, version, body in rows:
        if version == 1:
            connection.execute("INSERT INTO intents VALUES (?, ?, ?)", (intent_id, version, body))
        else:
            connection.execute(
                "UPDATE intents SET version = ?, body = ? WHERE id = ? AND version = ?",
                (version, body, intent_id, version - 1),
            )
        connection.commit()
    took = time.perf_counter() - began
    connection.close()
    return took


def same_rows(path: Path, commits: list[Commit]) -> float:
    SQLiteStore(path).close()  # the store's schema
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute(f"PRAGMA wal_autocheckpoint = {sqlite_store.WAL_AUTOCHECKPOINT_PAGES}")
    connection.execute(f"PRAGMA cache_size = -{sqlite_store.CACHE_KIB}")
    prepared = []
    for commit in commits:
        assert commit.intent is not None
        assert commit.idempotency is not None
        row = _sql.intent_row(commit.intent)
        events = [_sql.event_row(event) for event in commit.events]
        prepared.append((commit.expected_version, row, events, _sql.record_row(commit.idempotency)))
    began = time.perf_counter()
    for expected, row, events, record in prepared:
        connection.execute("BEGIN IMMEDIATE")
        if expected == 0:
            connection.execute(sqlite_store._INSERT_INTENT, row)
        else:
            intent_id, version, created, customer, status, due, body = row
            connection.execute(
                sqlite_store._UPDATE_INTENT,
                (version, status, due, body, intent_id, expected, created, customer),
            )
        connection.execute(sqlite_store._UPSERT_RECORD, record)
        connection.executemany(sqlite_store._INSERT_EVENT, events)
        connection.execute("COMMIT")
    took = time.perf_counter() - began
    connection.close()
    return took


def store(path: Path, commits: list[Commit]) -> float:
    opened = SQLiteStore(path)
    began = time.perf_counter()
    for commit in commits:
        opened.commit(commit)
    took = time.perf_counter() - began
    opened.close()
    return took


def postgres_latency(dsn: str, commits: list[Commit]) -> None:
    """Median microseconds per commit, with the server's durability and without the flush."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from payment_intent.adapters.postgres import PostgresStore

    options = conninfo_to_dict(dsn).get("options") or ""
    for label, extra in (
        ("fsync on commit", ""),
        ("synchronous_commit=off", "-c synchronous_commit=off"),
    ):
        opened = PostgresStore(make_conninfo(dsn, options=f"{options} {extra}".strip()))
        with opened._connection() as connection:
            connection.execute(
                "TRUNCATE payment_intents, payment_intent_events, payment_intent_idempotency"
            )
            connection.execute("UPDATE payment_intent_event_counter SET last_sequence = 0")
        times = []
        for commit in commits:
            began = time.perf_counter()
            opened.commit(commit)
            times.append(time.perf_counter() - began)
        opened.close()
        print(f"PostgreSQL, {label:24} {statistics.median(times) * 1e6:8.0f} us per commit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkouts", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dsn", help="also time PostgresStore.commit on this (emptied!) database")
    args = parser.parse_args()
    if args.checkouts < 1 or args.repeats < 1:
        parser.error("--checkouts and --repeats must be positive")
    commits = checkout_commits(args.checkouts)
    print(f"{args.checkouts:,} checkouts: {len(commits):,} commits, each with one event and key")
    peers: dict[str, Callable[[Path, list[Commit]], float]] = {
        "raw sqlite3, the intent alone": raw,
        "raw sqlite3, the store's rows": same_rows,
        "SQLiteStore.commit": store,
    }
    micros: dict[str, list[float]] = {name: [] for name in peers}
    with tempfile.TemporaryDirectory(prefix="commit-cost-") as directory:
        for repeat in range(args.repeats + 1):  # the first round warms up
            order = list(peers) if repeat % 2 else list(reversed(peers))
            for name in order:
                path = Path(directory) / f"{repeat}-{order.index(name)}.db"
                took = peers[name](path, commits)
                if repeat:
                    micros[name].append(took / args.checkouts * 1e6)
                for suffix in ("", "-wal", "-shm"):
                    os.remove(f"{path}{suffix}") if os.path.exists(f"{path}{suffix}") else None
    ceiling = statistics.median(micros["raw sqlite3, the intent alone"])
    for name, values in micros.items():
        median = statistics.median(values)
        print(
            f"{name:32} {median:8.1f} us per checkout  {1e6 / median:8.0f} /s"
            f"  {ceiling / median:5.0%} of raw"
        )
    if args.dsn:
        postgres_latency(args.dsn, commits[: min(len(commits), 600)])


if __name__ == "__main__":
    main()
