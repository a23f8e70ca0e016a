"""``transitions`` two ways: one shared machine fired on a throw-away token (bare, as the library's
``lifecycle.py`` uses it), and one ``Machine`` per object (the usual tutorial shape)."""

from __future__ import annotations

from typing import Any

# The library's whole lifecycle (SPEC section 2), copied as data so every peer machine is the same
# size as the one the library builds: 7 statuses, 12 triggers.
RPM, RC, RA = "requires_payment_method", "requires_confirmation", "requires_action"
PROCESSING, RCAP, SUCCEEDED, CANCELED = "processing", "requires_capture", "succeeded", "canceled"
STATES = [RPM, RC, RA, PROCESSING, RCAP, SUCCEEDED, CANCELED]
ATTEMPTABLE = [RPM, RC, RA]
TRANSITIONS = [
    {"trigger": "attach_payment_method", "source": ATTEMPTABLE, "dest": RC},
    {"trigger": "require_action", "source": ATTEMPTABLE, "dest": RA},
    {"trigger": "succeed", "source": ATTEMPTABLE, "dest": SUCCEEDED},
    {"trigger": "authorize", "source": ATTEMPTABLE, "dest": RCAP},
    {"trigger": "start_processing", "source": ATTEMPTABLE, "dest": PROCESSING},
    {"trigger": "fail", "source": ATTEMPTABLE, "dest": RPM},
    {"trigger": "await_confirmation", "source": [RA], "dest": RC},
    {"trigger": "settle_succeeded", "source": [PROCESSING], "dest": SUCCEEDED},
    {"trigger": "settle_failed", "source": [PROCESSING], "dest": RPM},
    {"trigger": "capture", "source": [RCAP], "dest": SUCCEEDED},
    {"trigger": "expire", "source": [RCAP], "dest": CANCELED},
    {"trigger": "cancel", "source": [RPM, RC, RA, RCAP], "dest": CANCELED},
]


class _Token:
    """What the shared machine moves: only the status, so nothing is registered with it."""

    __slots__ = ("status",)

    def __init__(self, status: str) -> None:
        self.status = status


class Shared:
    """One machine for all intents (``model=None``); each step fires a trigger on a fresh token."""

    def __init__(self) -> None:
        from transitions import Machine

        machine = Machine(
            model=None,
            states=STATES,
            transitions=TRANSITIONS,
            initial=None,
            auto_transitions=False,
            send_event=True,
            model_attribute="status",
        )
        self.events = machine.events

    def advance(self, status: str, trigger: str) -> str:
        token = _Token(status)
        self.events[trigger].trigger(token)
        return token.status

    def checkout(self, manual: bool) -> str:
        """The bare transitions of one checkout: no validation, events or storage."""
        status = "requires_payment_method"
        status = self.advance(status, "attach_payment_method")
        if manual:
            status = self.advance(status, "authorize")
            return self.advance(status, "capture")
        return self.advance(status, "succeed")


class Order:
    """An intent that owns its machine: ``Machine(model=self)`` adds the triggers to the object."""

    def __init__(self, amount: int, currency: str, capture_method: str) -> None:
        from transitions import Machine

        self.amount = amount
        self.currency = currency
        self.capture_method = capture_method
        self.payment_method: str | None = None
        self.amount_capturable = 0
        self.amount_received = 0
        Machine(
            model=self,
            states=STATES,
            transitions=TRANSITIONS,
            initial="requires_payment_method",
            auto_transitions=False,
        )


def per_object_checkout(manual: bool) -> Any:
    """Create (a new Machine), confirm with a card, capture a part."""
    order: Any = Order(120_000, "eur", "manual" if manual else "automatic")
    order.payment_method = "pm_card_visa"
    order.attach_payment_method()
    if manual:
        order.authorize()
        order.amount_capturable = order.amount
        order.capture()
        order.amount_received, order.amount_capturable = 100_000, 0
    else:
        order.succeed()
        order.amount_received = order.amount
    return order
