"""What a command emits: the next version of an intent and its events, each with the attributes
the change touched.

The difference between two versions is computed here, once, when the event is made; the dialects
translate these canonical ``previous_attributes`` into their own names instead of comparing
renderings again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from payment_intent.domain.errors import PaymentIntentError
from payment_intent.domain.model import PaymentIntent
from payment_intent.domain.status import EventType

#: Fields an event's ``previous_attributes`` never reports: bookkeeping, not business state.
UNREPORTED = frozenset({"version", "updated_at", "authenticated_payment_method", "refunds"})
_REPORTED = tuple(name for name in PaymentIntent.model_fields if name not in UNREPORTED)


@dataclass(frozen=True, slots=True)
class Change:
    """The result of a command: the new version, its events, and an error to raise once stored
    (a decline is recorded on the intent first, then reported)."""

    intent: PaymentIntent
    events: tuple[tuple[EventType, dict[str, Any]], ...] = ()
    error: PaymentIntentError | None = field(default=None)
    #: The refund the events are about, for a change to one of the intent's refunds.
    refund: str | None = None


def changed(before: PaymentIntent, after: PaymentIntent) -> dict[str, Any]:
    """The fields that differ between two versions, with their values before, as JSON data."""
    names = {name for name in _REPORTED if getattr(before, name) != getattr(after, name)}
    return before.model_dump(mode="json", include=names) if names else {}
