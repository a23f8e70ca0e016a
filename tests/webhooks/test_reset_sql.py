"""The test-data reset clears everything a SQL store keeps of a mode's intents, refunds included,
so a refund id from before the reset is found nowhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from payment_intent import ManualClock
from payment_intent.dialects import Api
from payment_intent.ports import ListQuery, RefundQuery, Store
from payment_intent.testing.contract import add_refunds, insert, make_refund, paid_intent
from payment_intent.webhooks import use_webhook_store
from payment_intent.webhooks.reset import reset
from tests.wire.conftest import SEED_KEY, SEED_TIME


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        from payment_intent.adapters.sqlite import SQLiteStore

        with SQLiteStore(tmp_path / "reset.db") as sqlite:
            yield sqlite
        return
    from payment_intent.adapters.postgres import PostgresStore
    from payment_intent.webhooks.postgres import PostgresWebhookStore

    dsn = request.getfixturevalue("postgres_dsn")
    with PostgresStore(dsn) as postgres:
        use_webhook_store(postgres, PostgresWebhookStore(dsn))
        yield postgres


def test_the_reset_forgets_the_refunds_with_their_intents(store: Store) -> None:
    api = Api.over("casapay", [SEED_KEY], store, clock=ManualClock(SEED_TIME))
    intent = insert(store, paid_intent())
    refund = make_refund(intent)
    add_refunds(store, intent, refund)
    assert store.refund_owner(refund.id) == intent.id

    reset(api, livemode=False)

    assert store.load(intent.id) is None
    assert store.refund_owner(refund.id) is None
    assert store.list_refunds(RefundQuery(limit=10)) == []
    assert store.list_intents(ListQuery(limit=10, now=SEED_TIME)) == []
    # The store works on: the same refund may be indexed again by a new intent.
    again = insert(store, paid_intent())
    add_refunds(store, again, refund.model_copy(update={"payment_intent": again.id}))
    assert store.refund_owner(refund.id) == again.id
