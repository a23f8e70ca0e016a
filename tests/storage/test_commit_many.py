"""The expiry sweep through ``commit_many`` on the SQL stores (the batch contract itself is in the
store contract suite)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from payment_intent import ManualClock, PaymentIntents
from payment_intent.adapters.sqlite import SQLiteStore
from payment_intent.domain.status import EventType, Status
from payment_intent.ports import Commit, IntegrityError
from payment_intent.testing.contract import all_events


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "sqlite":
        opened: Any = SQLiteStore(tmp_path / "many.db")
    else:
        from payment_intent.adapters.postgres import PostgresStore

        opened = PostgresStore(request.getfixturevalue("postgres_dsn"))
    with opened:
        yield opened


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

    def racing_commit_many(commits: list[Commit]) -> list[IntegrityError | None]:
        # Another writer moves the first hold on between the sweep's read and its write.
        raced = store.load(holds[0].id)
        store.commit(Commit(raced.evolve(version=raced.version + 1), raced.version))
        batches.append(len(commits))
        results: list[IntegrityError | None] = original(commits)
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
