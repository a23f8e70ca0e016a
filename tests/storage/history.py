"""Checks the reliability tests make on what a store holds after races and crashes.

SPEC section 5 for one stored intent is the kit's ``assert_invariants``; ``assert_feed_is_gap_free``
and ``events_by_intent`` read the whole event feed back.
"""

from __future__ import annotations

from collections import defaultdict

from payment_intent.domain.model import Event
from payment_intent.ports import Store


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
