"""A delivery round costs the same however large the backlog: the worker asks which endpoints are
due and claims a few deliveries of each, with at most ``concurrency`` in flight, so a round that
read every pending delivery would make a backlog drain in time that grows with its square.

Measured without a clock, over a backlog of 20 events and over one of 2,000: the Python lines
the in-memory store runs and the steps SQLite's virtual machine takes in one round, and the rows
PostgreSQL reads to find the due endpoints.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from contract import NOW, endpoint, news

from payment_intent.webhooks.sqlite import SQLiteWebhookStore
from payment_intent.webhooks.storage import InMemoryWebhookStore, WebhookStore

ENDPOINTS = 10
SMALL, LARGE = 20, 2000  # events, each to every endpoint
#: Leased per endpoint, on the first two (as the worker's defaults allow: 8 per endpoint, 16 in
#: all): a round steps over them.
IN_FLIGHT = 8


def backlog(hooks: WebhookStore, events: int) -> None:
    """``events`` deliveries due on each of the endpoints, the first two's earliest in flight."""
    for number in range(ENDPOINTS):
        hooks.add_endpoint(endpoint(number), ENDPOINTS)
    plan = [
        (f"we_{n:04d}", 0, events, news(f"we_{n:04d}", *range(1, events + 1)))
        for n in range(ENDPOINTS)
    ]
    assert hooks.fan_out(plan, NOW) == ENDPOINTS * events
    for endpoint_id in ("we_0000", "we_0001"):
        assert len(hooks.claim(endpoint_id, NOW, IN_FLIGHT, NOW + 30, "worker")) == IN_FLIGHT


def one_round(hooks: WebhookStore) -> None:
    """What the worker does each round: the due endpoints, then a claim on each."""
    due = hooks.due_endpoints(NOW + 1)
    assert due == [f"we_{n:04d}" for n in range(ENDPOINTS)]
    for endpoint_id in due:
        (claimed,) = hooks.claim(endpoint_id, NOW + 1, 1, NOW + 31, "worker")
        # the soonest due not in flight: the first two endpoints' leased ones are stepped over
        leased = IN_FLIGHT if endpoint_id in ("we_0000", "we_0001") else 0
        assert claimed.delivery.event_id == f"evt_{leased + 1}"


def lines_run(work: Callable[[], None]) -> int:
    """How many Python lines ``work`` runs, in every function it calls."""
    count = 0

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        work()
    finally:
        sys.settrace(None)
    return count


def test_an_in_memory_round_reads_the_front_of_each_queue_not_the_backlog() -> None:
    costs = {}
    for events in (SMALL, LARGE):
        hooks = InMemoryWebhookStore()
        backlog(hooks, events)
        costs[events] = lines_run(lambda hooks=hooks: one_round(hooks))  # type: ignore[misc]
    # The sorted queues cost a little more as they grow (a logarithm); a scan, 100 times more.
    assert costs[LARGE] < 2 * costs[SMALL], costs


def test_a_sqlite_round_probes_the_index_not_the_backlog(tmp_path: Path) -> None:
    costs = {}
    for events in (SMALL, LARGE):
        hooks = SQLiteWebhookStore(tmp_path / f"backlog-{events}.sqlite3")
        backlog(hooks, events)
        with hooks._connection() as connection:
            connection.execute("ANALYZE")  # plans as a long-running database would have them
        steps = count_steps(hooks)
        one_round(hooks)
        costs[events] = steps()
        hooks.close()
    assert costs[LARGE] < 2 * costs[SMALL], costs


def count_steps(hooks: SQLiteWebhookStore) -> Callable[[], int]:
    """Count the virtual machine steps of every statement ``hooks`` runs from now on (in blocks
    of 10); returns how to read the count."""
    count = 0

    def step() -> int:
        nonlocal count
        count += 1
        return 0  # go on

    def counted(
        opened: Callable[[], AbstractContextManager[sqlite3.Connection]],
    ) -> Callable[[], AbstractContextManager[sqlite3.Connection]]:
        @contextmanager
        def wrapper() -> Iterator[sqlite3.Connection]:
            with opened() as connection:
                connection.set_progress_handler(step, 10)
                try:
                    yield connection
                finally:
                    connection.set_progress_handler(None, 0)

        return wrapper

    hooks._connection = counted(hooks._connection)  # type: ignore[method-assign]
    hooks._transaction = counted(hooks._transaction)  # type: ignore[method-assign]
    return lambda: count


def test_a_postgres_round_probes_the_index_not_the_backlog(postgres_dsn: str) -> None:
    from payment_intent.webhooks._sql import DUE_ENDPOINTS
    from payment_intent.webhooks.postgres import PostgresWebhookStore

    costs = {}
    for events in (SMALL, LARGE):
        hooks = PostgresWebhookStore(postgres_dsn)
        hooks.clear()
        backlog(hooks, events)
        with hooks._connection() as connection:
            connection.execute("ANALYZE webhook_endpoints")
            connection.execute("ANALYZE webhook_deliveries")
            (plan,) = connection.execute(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + hooks._sql(DUE_ENDPOINTS),
                (NOW + 1, NOW + 1),
            ).fetchone()
        costs[events] = rows_read(plan[0]["Plan"], "webhook_deliveries")
        one_round(hooks)
        hooks.close()
    assert costs[LARGE] < 2 * costs[SMALL], costs


def rows_read(node: dict[str, Any], table: str) -> int:
    """How many rows of ``table`` the plan ``node`` (run with ``ANALYZE``) read: those it returned
    and those its filter dropped, over all its loops."""
    read = 0
    if node.get("Relation Name") == table:
        per_loop = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
        read += round(per_loop * node["Actual Loops"])
    return read + sum(rows_read(child, table) for child in node.get("Plans", ()))
