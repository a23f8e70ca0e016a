"""Storage benchmark: SQLite and PostgreSQL under the PaymentIntents service.

Not a test (pytest does not collect it): run it and read the figures.

    python tests/benchmarks/bench_storage.py                # full run: 1,000,000 intents per store
    python tests/benchmarks/bench_storage.py --scale 0.02   # quick run: 20,000 intents
    python tests/benchmarks/bench_storage.py --stores sqlite --dsn postgresql://...

For each store it prints:

* full manual-capture checkouts per second (create, confirm, capture through ``PaymentIntents``,
  one thread, one request after another);
* the time of one list page (``limit=100``) at 10,000 stored intents and at 1,000,000, for
  several filters and a cursor deep in the list: it must stay flat;
* the expiry sweep's time with 1,000 due holds among 10,000 and among 1,000,000 intents: it must
  follow the due holds, not the table.

Bulk rows are written with the store's own serialisation (``adapters._sql.intent_row``), in
batches, straight into its tables: seeding a million intents through the service would measure
the seeding, not the store. PostgreSQL runs on a throwaway cluster with its default durability
(fsync and synchronous_commit on) unless ``--dsn`` names another server; SQLite uses its store's
settings (WAL, synchronous=NORMAL).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "storage"))

from payment_intent import ManualClock, PaymentIntent, PaymentIntents, SQLiteStore, Status
from payment_intent.adapters import _sql
from payment_intent.adapters.postgres import list_statement as postgres_list_statement
from payment_intent.adapters.sqlite import list_statement as sqlite_list_statement
from payment_intent.domain.status import CancellationReason, CaptureMethod
from payment_intent.ids import new_id
from payment_intent.ports import ListQuery, Store

NOW = 1_800_000_000
BATCH = 10_000
STATUSES = (Status.SUCCEEDED, Status.CANCELED, Status.REQUIRES_PAYMENT_METHOD, Status.SUCCEEDED)


def template() -> PaymentIntent:
    store = PaymentIntents(clock=ManualClock(NOW))
    intent = store.create(
        amount=12_345,
        currency="usd",
        customer="cus_template",
        payment_method="pm_card_visa",
        capture_method="manual",
        description="Order #1234 for two shirts and a hat",
        metadata={"order_id": "1234", "channel": "web"},
        confirm=True,
    )
    return store.capture(intent.id)


def seeded_intent(base: PaymentIntent, n: int, *, due: bool, held: bool) -> PaymentIntent:
    """The n-th seeded intent: created a second apart, for one of 50 customers (so a customer's
    page is full at both sizes)."""
    intent_id = new_id("pi")
    created = NOW - 2_000_000 + n
    common = {
        "id": intent_id,
        "client_secret": f"{intent_id}_secret_bench",
        "customer": f"cus_{n % 50:05d}",
        "created": created,
        "updated_at": created,
    }
    if due or held:
        return base.model_copy(
            update={
                **common,
                "status": Status.REQUIRES_CAPTURE,
                "amount_received": 0,
                "amount_capturable": base.amount,
                "capture_before_at": NOW - 10 if due else NOW + 7 * 86_400,
            }
        )
    status = STATUSES[n % len(STATUSES)]
    changes: dict[str, Any] = {**common, "status": status}
    if status is not Status.SUCCEEDED:
        changes.update(amount_received=0, amount_capturable=0, capture_before_at=None, charges=())
        changes["capture_method"] = CaptureMethod.AUTOMATIC
    if status is Status.CANCELED:
        changes.update(canceled_at=created, cancellation_reason=CancellationReason.ABANDONED)
    return base.model_copy(update=changes)


def rows(
    base: PaymentIntent, start: int, count: int, due: int, held: int
) -> Iterator[_sql.IntentRow]:
    """``count`` rows from position ``start``; the first ``due`` are lapsed holds, the next
    ``held`` live ones (spread evenly would not change a thing: both are found by index)."""
    for offset in range(count):
        n = start + offset
        yield _sql.intent_row(
            seeded_intent(base, n, due=offset < due, held=due <= offset < due + held)
        )


# -- bulk loading, per store -----------------------------------------------------------------


def load_sqlite(store: Any, batch: list[_sql.IntentRow]) -> None:
    with store._transaction() as connection:
        connection.executemany(
            "INSERT INTO payment_intents"
            " (id, version, created, customer, status, capture_before_at, body)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            batch,
        )


def load_postgres(store: Any, batch: list[_sql.IntentRow]) -> None:
    with (
        store._connection() as connection,
        connection.transaction(),
        connection.cursor().copy(
            "COPY payment_intents (id, version, created, customer, status, capture_before_at,"
            " body) FROM STDIN"
        ) as copy,
    ):
        for row in batch:
            copy.write_row(row)


def analyze(kind: str, store: Any) -> None:
    """PostgreSQL plans by statistics, which autovacuum keeps up to date on a live database."""
    if kind == "postgres":
        with store._connection() as connection:
            connection.execute("ANALYZE payment_intents")


def seed(
    kind: str, store: Any, base: PaymentIntent, start: int, count: int, due: int, held: int
) -> float:
    load = load_sqlite if kind == "sqlite" else load_postgres
    began = time.perf_counter()
    batch: list[_sql.IntentRow] = []
    for row in rows(base, start, count, due, held):
        batch.append(row)
        if len(batch) == BATCH:
            load(store, batch)
            batch = []
    if batch:
        load(store, batch)
    analyze(kind, store)
    return time.perf_counter() - began


# -- measurements ----------------------------------------------------------------------------


def checkouts_per_second(service: PaymentIntents, count: int) -> float:
    began = time.perf_counter()
    for n in range(count):
        intent = service.create(
            amount=5_000 + n,
            currency="usd",
            customer=f"cus_{n % 5000:05d}",
            capture_method="manual",
        )
        service.confirm(intent.id, payment_method="pm_card_visa")
        service.capture(intent.id)
    return count / (time.perf_counter() - began)


def median_ms(action: Callable[[], object], repeat: int = 30) -> float:
    action()  # warm caches and prepared statements
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


def list_queries(service: PaymentIntents, middle_id: str) -> dict[str, dict[str, Any]]:
    """The pages measured: their ``PaymentIntents.list`` arguments, by name."""
    return {
        "newest": {},
        "customer": {"customer": "cus_00012"},
        "customer+status": {"customer": "cus_00012", "status": "succeeded"},
        "status": {"status": "canceled"},
        "cursor (mid-list)": {"starting_after": middle_id},
        "created < (mid-list)": {"created": {"lt": NOW - 1_000_000}},
    }


def list_pages(service: PaymentIntents, middle_id: str) -> dict[str, float]:
    return {
        name: median_ms(lambda arguments=arguments: service.list(limit=100, **arguments))
        for name, arguments in list_queries(service, middle_id).items()
    }


def plans(kind: str, store: Any, service: PaymentIntents, middle_id: str) -> dict[str, str]:
    """How the database answers each page: the top line of its query plan."""
    cursor_intent = service.retrieve(middle_id)
    found: dict[str, str] = {}
    for name, arguments in list_queries(service, middle_id).items():
        created = arguments.get("created")
        query = ListQuery(
            limit=101,
            now=service.clock.now(),
            customer=arguments.get("customer"),
            status=Status(arguments["status"]) if "status" in arguments else None,
            created_lte=created["lt"] - 1 if created else None,
            after=(cursor_intent.created, cursor_intent.id)
            if "starting_after" in arguments
            else None,
        )
        if kind == "sqlite":
            sql, params = sqlite_list_statement(query)
            with store._connection() as connection:
                rows = connection.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
            found[name] = "; ".join(row[3] for row in rows)
        else:
            sql, params = postgres_list_statement(query)
            with store._connection() as connection:
                rows = connection.execute(f"EXPLAIN {sql}", params).fetchall()
            found[name] = next(r[0].strip() for r in rows if "Scan" in r[0]).lstrip("-> ")
    return found


def sweep(service: PaymentIntents, expected: int) -> tuple[float, float]:
    """Seconds to find the due holds, and to expire them all (found and canceled, with events)."""
    began = time.perf_counter()
    due = service.store.due_authorizations(NOW, 10_000)
    found = time.perf_counter() - began
    assert len(due) == expected, (len(due), expected)
    began = time.perf_counter()
    expired = service.expire_authorizations()
    total = time.perf_counter() - began
    assert len(expired) == expected, (len(expired), expected)
    return found, total


def bench(kind: str, store: Store, small: int, large: int, due: int, count: int) -> None:
    service = PaymentIntents(store, ManualClock(NOW))
    base = template()
    print(f"\n== {kind} ==", flush=True)
    rate = checkouts_per_second(service, count)
    print(f"checkouts (create+confirm+capture), 1 thread: {rate:8.1f} /s")
    seeded = seed(kind, store, base, 0, small - count, due, 1000)
    print(f"seeded {small - count:,} intents in {seeded:.1f} s", flush=True)
    found_small, sweep_small = sweep(service, due)  # first: every list page also sweeps
    # A cursor in the middle of the first seed (the intent created at that second).
    middle_id = service.list(limit=1, created=NOW - 2_000_000 + small // 2).data[0].id
    pages_small = list_pages(service, middle_id)
    seeded = seed(kind, store, base, small, large - small, due, 10_000)
    print(f"seeded {large - small:,} more intents in {seeded:.1f} s", flush=True)
    found_large, sweep_large = sweep(service, due)
    pages_large = list_pages(service, middle_id)
    print(f"list page, limit=100 (median ms)  {small:>12,}  {large:>12,}")
    for name in pages_small:
        print(f"  {name:<32} {pages_small[name]:12.2f}  {pages_large[name]:12.2f}")
    print(f"query plans at {large:,}:")
    for name, plan in plans(kind, store, service, middle_id).items():
        print(f"  {name:<22} {plan}")
    print(f"expiry sweep, {due:,} due holds        {small:>12,}  {large:>12,}")
    print(
        f"  find the due holds (ms)          {found_small * 1000:12.2f}  {found_large * 1000:12.2f}"
    )
    print(f"  expire them all (s)              {sweep_small:12.2f}  {sweep_large:12.2f}")


@contextmanager
def sqlite_store() -> Iterator[Store]:
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as directory:
        store = SQLiteStore(Path(directory) / "bench.db")
        try:
            yield store
        finally:
            store.close()


@contextmanager
def postgres_store(dsn: str | None) -> Iterator[Store]:
    from payment_intent.adapters.postgres import PostgresStore

    cluster: AbstractContextManager[str]
    if dsn is None:
        from postgres_server import throwaway_cluster

        cluster = throwaway_cluster(durable=True)
    else:
        cluster = nullcontext(dsn)
    with cluster as url:
        store = PostgresStore(url)
        try:
            yield store
        finally:
            store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 seeds 1,000,000 intents")
    parser.add_argument("--stores", default="sqlite,postgres", help="comma-separated")
    parser.add_argument("--dsn", help="an existing PostgreSQL database (default: a throwaway one)")
    args = parser.parse_args()
    if not 0 < args.scale <= 10:
        parser.error("--scale must be in (0, 10]")
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    if not stores or not set(stores) <= {"sqlite", "postgres"}:
        parser.error("--stores takes sqlite and/or postgres")
    large = max(int(1_000_000 * args.scale), 20_000)
    small, due = 10_000, 1_000
    count = max(50, int(1_000 * min(args.scale, 1.0)))
    print(f"{small:,} and {large:,} intents; {due:,} due holds; {count:,} checkouts per store")
    for kind in stores:
        began = time.perf_counter()
        opened = sqlite_store() if kind == "sqlite" else postgres_store(args.dsn)
        with opened as store:
            bench(kind, store, small, large, due, count)
        print(f"({kind} took {time.perf_counter() - began:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
