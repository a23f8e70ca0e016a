"""``commit_many`` on the SQL stores: every commit as if alone, in one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from payment_intent import ManualClock, PaymentIntents
from payment_intent.adapters.sqlite import SQLiteStore
from payment_intent.domain.status import EventType, Status
from payment_intent.errors import ConcurrencyError
from payment_intent.ports import Commit
from payment_intent.testing.contract import (
    advance,
    all_events,
    insert,
    make_event,
    make_intent,
    make_record,
    next_version,
)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "sqlite":
        opened: Any = SQLiteStore(tmp_path / "many.db")
    else:
        from payment_intent.adapters.postgres import PostgresStore

        opened = PostgresStore(request.getfixturevalue("postgres_dsn"))
    with opened:
        yield opened


def test_a_conflicting_commit_writes_nothing_and_the_others_are_all_written(store: Any) -> None:
    held = insert(store, make_intent(status=Status.REQUIRES_CAPTURE))
    raced = insert(store, make_intent())
    store.commit(Commit(None, 0, idempotency=make_record("taken")))
    moved_on = advance(store, raced)  # raced is now one version behind

    new = make_intent()
    expired = next_version(held, status=Status.CANCELED)
    stale = next_version(raced, status=Status.CANCELED)
    results = store.commit_many(
        [
            Commit(new, 0, (make_event(new),), make_record("fresh")),
            Commit(stale, raced.version, (make_event(stale, EventType.CANCELED),)),
            Commit(expired, held.version, (make_event(expired, EventType.CANCELED),)),
            Commit(None, 0, idempotency=make_record("taken")),
            Commit(next_version(new), 5),  # a version that cannot follow the expected one
        ]
    )

    assert [type(result).__name__ for result in results] == [
        "NoneType",
        "ConcurrencyError",
        "NoneType",
        "ConcurrencyError",
        "ConcurrencyError",
    ]
    assert all(
        result.code == "concurrent_modification"
        for result in results
        if isinstance(result, ConcurrencyError)
    )
    assert raced.id in str(results[1])
    assert "taken" in str(results[3])
    assert store.load(new.id) == new
    assert store.load(held.id) == expired
    assert store.load(raced.id) == moved_on
    assert store.idempotency_record("fresh") == make_record("fresh")
    feed = all_events(store)
    assert [event.sequence for event in feed] == list(range(1, len(feed) + 1))
    assert [(event.intent_id, event.type) for event in feed[-2:]] == [
        (new.id, EventType.CREATED.value),
        (held.id, EventType.CANCELED.value),
    ]


def test_an_empty_batch_writes_nothing(store: Any) -> None:
    assert store.commit_many([]) == []
    assert all_events(store) == []


def test_the_sweep_expires_a_batch_together_and_retries_a_hold_that_raced(store: Any) -> None:
    clock = ManualClock(1_706_140_800)
    service = PaymentIntents(store=store, clock=clock)
    holds = [
        service.create(
            amount=1_000,
            currency="usd",
            capture_method="manual",
            payment_method="pm_card_visa",
            confirm=True,
        )
        for _ in range(3)
    ]
    clock.advance(8 * 24 * 3600)
    batches: list[int] = []
    original = store.commit_many

    def racing_commit_many(commits: list[Commit]) -> list[ConcurrencyError | None]:
        # Another writer moves the first hold on between the sweep's read and its write.
        raced = store.load(holds[0].id)
        store.commit(Commit(raced.evolve(version=raced.version + 1), raced.version))
        batches.append(len(commits))
        results: list[ConcurrencyError | None] = original(commits)
        return results

    store.commit_many = racing_commit_many
    expired = service.expire_authorizations()
    assert batches == [3]
    assert sorted(intent.id for intent in expired) == sorted(hold.id for hold in holds)
    for hold in holds:
        stored = store.load(hold.id)
        assert stored.status is Status.CANCELED
        assert stored.cancellation_reason == "automatic"
        assert stored.canceled_at == hold.capture_before_at
    canceled = [e for e in all_events(store) if e.type == EventType.CANCELED.value]
    assert sorted(e.intent_id for e in canceled) == sorted(hold.id for hold in holds)
