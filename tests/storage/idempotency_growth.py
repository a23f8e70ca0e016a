"""What 50,000 keyed requests over three simulated days leave behind in each store: how many
idempotency records, and how much room they take (in memory: what tracemalloc counts for the
store; SQLite: the database file after a checkpoint; PostgreSQL: the table with its indexes).
Not a test (``test_idempotency_growth.py`` is): run it and read the figures.

    python tests/storage/idempotency_growth.py              # memory and SQLite
    python tests/storage/idempotency_growth.py --postgres   # and a throwaway PostgreSQL cluster
"""

from __future__ import annotations

import argparse
import gc
import json
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_idempotency_growth import DAYS, REQUESTS, keyed_request

from payment_intent import InMemoryStore, SQLiteStore


def memory() -> None:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    store = InMemoryStore()
    began = time.perf_counter()
    for n in range(REQUESTS):  # made inside the traced span, so the store's share is counted
        store.commit(keyed_request(n))
    took = time.perf_counter() - began
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    kept = len(json.loads(store.snapshot())["idempotency"])
    print(f"memory    {kept:>7,} records kept  {held / 2**20:6.1f} MiB held  ({took:.1f} s)")


def sqlite() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "keys.db"
        store = SQLiteStore(path)
        began = time.perf_counter()
        for n in range(REQUESTS):
            store.commit(keyed_request(n))
        took = time.perf_counter() - began
        store.close()
        raw = sqlite3.connect(path)
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        kept = raw.execute("SELECT count(*) FROM payment_intent_idempotency").fetchone()[0]
        pages, free = (
            raw.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_count", "freelist_count")
        )
        raw.close()
        size = path.stat().st_size
        print(
            f"sqlite    {kept:>7,} records kept  {size / 2**20:6.1f} MiB file"
            f"  ({free:,} of {pages:,} pages free for reuse; {took:.1f} s)"
        )


def postgres() -> None:
    import psycopg
    from postgres_server import fresh_schema, throwaway_cluster

    from payment_intent import PostgresStore

    with throwaway_cluster() as server:
        dsn = fresh_schema(server)
        store = PostgresStore(dsn, max_size=4)
        began = time.perf_counter()
        vacuum = psycopg.connect(dsn, autocommit=True)
        for start in range(0, REQUESTS, 5_000):
            # A round trip each: four senders share the wait.
            with ThreadPoolExecutor(4) as pool:
                chunk = range(start, min(start + 5_000, REQUESTS))
                list(
                    pool.map(
                        lambda first, chunk=chunk: [
                            store.commit(keyed_request(n)) for n in chunk[first::4]
                        ],
                        range(4),
                    )
                )
            # What autovacuum does every minute or so in a long-running database, here on a
            # timetable this short run can count on: the space of deleted rows is reused.
            vacuum.execute("VACUUM payment_intent_idempotency")
        vacuum.close()
        took = time.perf_counter() - began
        store.close()
        with psycopg.connect(dsn, autocommit=True) as raw:
            raw.execute("VACUUM payment_intent_idempotency")
            kept, size = raw.execute(
                "SELECT count(*), pg_total_relation_size('payment_intent_idempotency')"
                " FROM payment_intent_idempotency"
            ).fetchone()
        print(
            f"postgres  {kept:>7,} records kept  {size / 2**20:6.1f} MiB table and indexes"
            f"  ({took:.1f} s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="also a throwaway PostgreSQL")
    arguments = parser.parse_args()
    print(f"{REQUESTS:,} keyed requests over {DAYS} simulated days, each key kept for one day")
    memory()
    sqlite()
    if arguments.postgres:
        postgres()


if __name__ == "__main__":
    main()
