"""Checks the reliability tests make on what a store holds after races and crashes.

``assert_intent_rules`` is SPEC section 5 for one stored intent; ``assert_feed_is_gap_free`` and
``events_by_intent`` read the whole event feed back.
"""

from __future__ import annotations

from collections import defaultdict

from payment_intent.domain.model import Event, PaymentIntent
from payment_intent.domain.status import CancellationReason, Status
from payment_intent.ports import Store


def assert_intent_rules(intent: PaymentIntent) -> None:
    """SPEC section 5, as far as one stored version can show it."""
    where = f"{intent.id} v{intent.version} ({intent.status.value})"
    assert 0 <= intent.amount_received <= intent.amount, where
    assert 0 <= intent.amount_capturable <= intent.amount, where
    assert (intent.amount_capturable > 0) == (intent.status is Status.REQUIRES_CAPTURE), where
    if intent.status is Status.REQUIRES_CAPTURE:
        assert intent.capture_before_at is not None, where
    succeeded = [charge for charge in intent.charges if charge.status == "succeeded"]
    assert len(succeeded) <= 1, f"{where}: more than one successful charge"
    if intent.capture_before_at is not None:
        assert len(succeeded) == 1, f"{where}: capture_before_at without an authorization"
    if intent.status is Status.SUCCEEDED:
        assert intent.amount_received > 0, where
        assert succeeded[0].captured or intent.capture_before_at is None, where
    else:
        assert intent.amount_received == 0, f"{where}: money received but not succeeded"
    canceled = intent.status is Status.CANCELED
    assert (intent.canceled_at is not None) == canceled, where
    assert intent.cancellation_reason is None or canceled, where
    if intent.cancellation_reason is CancellationReason.AUTOMATIC:
        assert intent.capture_before_at is not None, where
    assert intent.created <= intent.updated_at, where
    assert intent.version >= 1, where


def read_feed(store: Store) -> list[Event]:
    events: list[Event] = []
    while batch := store.read_events(len(events), 500):
        events.extend(batch)
    return events


def assert_feed_is_gap_free(events: list[Event]) -> None:
    assert [event.sequence for event in events] == list(range(1, len(events) + 1))
    assert len({event.id for event in events}) == len(events), "an event appears twice"


def events_by_intent(events: list[Event]) -> dict[str, dict[int, list[Event]]]:
    """``{intent id: {version: [events of that version, in feed order]}}``."""
    grouped: dict[str, dict[int, list[Event]]] = defaultdict(lambda: defaultdict(list))
    for event in events:
        assert event.data.id == event.intent_id
        assert event.data.version == event.intent_version, "an event shows another version"
        grouped[event.intent_id][event.intent_version].append(event)
    return grouped
