"""What one intent stores does not grow with the number of attempts made on it.

Every declined confirm used to add a failed charge to the intent, and every event stores the intent
as it then stood: 600 declines on one intent added 150 MB to a SQLite store and made each request
an order of magnitude slower. An intent now keeps its latest charges only; the attempts before them
remain in the event feed.
"""

from __future__ import annotations

import json

import pytest

from payment_intent import PaymentIntents
from payment_intent.domain.aggregate import CHARGES_KEPT
from payment_intent.errors import CardError


def _decline(svc: PaymentIntents, intent_id: str) -> None:
    with pytest.raises(CardError):
        svc.confirm(intent_id, payment_method="pm_card_visa_chargeDeclined")


def test_an_intent_keeps_its_latest_charges_whatever_the_number_of_declines(
    svc: PaymentIntents,
) -> None:
    intent = svc.create(amount=5000, currency="eur")
    for _ in range(3 * CHARGES_KEPT):
        _decline(svc, intent.id)
    after = svc.retrieve(intent.id)
    assert len(after.charges) == CHARGES_KEPT
    assert after.version == 1 + 3 * CHARGES_KEPT
    paid = svc.confirm(intent.id, payment_method="pm_card_visa")
    assert len(paid.charges) == CHARGES_KEPT
    assert paid.charges[-1].status == "succeeded", "the charge that paid is always kept"


def test_an_events_size_does_not_grow_with_earlier_declines(svc: PaymentIntents) -> None:
    intent = svc.create(amount=5000, currency="eur")
    for _ in range(4 * CHARGES_KEPT):
        _decline(svc, intent.id)
    failed = [e for e in svc.events(limit=1000).data if e.type == "payment_intent.payment_failed"]
    sizes = [len(json.dumps(event.model_dump(mode="json"))) for event in failed]
    # Once the kept charges are full, each event is the same size (ids and times aside).
    settled = sizes[CHARGES_KEPT:]
    assert max(settled) - min(settled) < 64, settled
