"""Delivered events do not pile up: on every webhook store, deliveries made steadily over ninety
days leave about thirty days of deliveries and attempts (the retention), not all of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from contract import endpoint, news

from payment_intent.webhooks.model import Attempt, Result
from payment_intent.webhooks.storage import RETENTION, InMemoryWebhookStore, WebhookStore

START, DAY = 1_800_000_000.0, 24 * 3600.0
DAYS, EVENTS = 90, 1800
KEPT = round(EVENTS * RETENTION / (DAYS * DAY))  # the events of the last thirty days


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def hooks(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WebhookStore]:
    if request.param == "memory":
        yield InMemoryWebhookStore()
    elif request.param == "sqlite":
        from payment_intent.webhooks.sqlite import SQLiteWebhookStore

        yield SQLiteWebhookStore(tmp_path / "hooks.sqlite3")
    else:
        from payment_intent.webhooks.postgres import PostgresWebhookStore

        yield PostgresWebhookStore(request.getfixturevalue("postgres_dsn"))


def test_deliveries_made_over_ninety_days_leave_about_thirty_days_of_them(
    hooks: WebhookStore,
) -> None:
    hooks.add_endpoint(endpoint(1), 16)
    for sequence in range(1, EVENTS + 1):
        now = START + sequence * DAYS * DAY / EVENTS
        hooks.fan_out([("we_0001", sequence - 1, sequence, news("we_0001", sequence))], now)
        (claimed,) = hooks.claim("we_0001", now, 1, now + 30, "worker")
        answered = Attempt("we_0001", f"evt_{sequence}", 1, now, 0.01, 200, None, "succeeded")
        hooks.record([Result(claimed, answered)])
    deliveries = hooks.deliveries()
    attempts = hooks.attempts(limit=EVENTS)
    # Pruning looks once an hour: up to an hour's events (under one here) beyond thirty days.
    assert KEPT <= len(deliveries) <= KEPT + 2
    assert KEPT <= len(attempts) <= KEPT + 2
    assert deliveries[-1].event_id == f"evt_{EVENTS}"  # the newest are the ones kept
