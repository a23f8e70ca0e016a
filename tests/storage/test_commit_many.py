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


def test_the_sweep_writes_its_batch_in_one_commit_many_and_keeps_a_racers_change(
    store: Any,
) -> None:
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
        moved = raced.model_copy(update={"version": raced.version + 1, "description": "raced"})
        store.commit(Commit(moved, raced.version))
        batches.append(len(commits))
        results: list[IntegrityError | None] = original(commits)
        assert isinstance(results[0], IntegrityError)
        return results

    store.commit_many = racing_commit_many
    expired = service.expire_authorizations()
    assert batches[0] == 3
    for hold in holds[1:]:
        stored = store.load(hold.id)
        assert stored.status is Status.CANCELED
        assert stored.cancellation_reason == "automatic"
        assert stored.canceled_at == hold.capture_before_at
        assert stored in expired
    # The racer's change stands, whether the sweep expired that hold afterwards or left it.
    assert store.load(holds[0].id).description == "raced"
    canceled = [e.intent_id for e in all_events(store) if e.type == EventType.CANCELED.value]
    assert sorted(canceled) == sorted({*canceled}), "an expiry was written twice"
    assert sorted(canceled) == sorted(i.id for i in expired)
