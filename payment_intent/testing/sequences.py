"""Command sequences: a checkout written down as steps, and a way to replay it on a service.

:func:`payment_intent.testing.strategies.checkout_sequences` draws such sequences; this module
needs no Hypothesis, so a sequence saved from a failing test can be replayed anywhere::

    steps = [
        Step("create", {"amount": 2000, "currency": "eur",
                        "payment_method": "pm_card_visa"}),
        Step("confirm", {}),
    ]
    results = replay(PaymentIntents(clock=ManualClock(0)), steps)
"""

from __future__ import annotations

from typing import Any, NamedTuple

from payment_intent.domain.errors import CardError, PaymentIntentError, parameter_invalid
from payment_intent.domain.model import PaymentIntent
from payment_intent.service import PaymentIntents

#: Operations a step may name: the service's commands on one intent, and the clock.
STEP_OPERATIONS = frozenset(
    {
        "create",
        "update",
        "confirm",
        "complete_action",
        "settle",
        "capture",
        "cancel",
        "retrieve",
        "advance_clock",
    }
)

Result = PaymentIntent | PaymentIntentError


class Step(NamedTuple):
    """One step of a checkout: a service operation (or ``advance_clock``) and its arguments.

    Every step after the first acts on the intent the first step (``create``) made;
    ``advance_clock`` takes ``seconds`` and moves the service's clock (a ``ManualClock``).
    """

    operation: str
    kwargs: dict[str, Any]

    def __repr__(self) -> str:
        return f"Step({self.operation!r}, {self.kwargs!r})"


def replay(service: PaymentIntents, steps: list[Step]) -> list[Result]:
    """Run ``steps`` on ``service``; one result per step: the intent, or the typed error raised.

    The first step must be ``create``. A declined create still made an intent, and the steps go
    on with it; a create refused outright leaves nothing to act on, so replay stops there.
    ``advance_clock`` steps report the intent as it then reads.
    """
    if not steps or steps[0].operation != "create":
        raise parameter_invalid("steps", "A checkout sequence starts with a create step.")
    for step in steps:
        if step.operation not in STEP_OPERATIONS:
            raise parameter_invalid("steps", f"Unknown step operation {step.operation!r}.")
    advance = getattr(service.clock, "advance", None)
    if advance is None and any(step.operation == "advance_clock" for step in steps):
        raise parameter_invalid("steps", "advance_clock steps need a service with a ManualClock.")
    results: list[Result] = []
    intent_id: str | None = None
    for step in steps:
        try:
            if step.operation == "create":
                result: Result = service.create(**step.kwargs)
            else:
                assert intent_id is not None
                if step.operation == "advance_clock":
                    assert advance is not None
                    advance(step.kwargs["seconds"])
                    result = service.retrieve(intent_id)
                else:
                    result = getattr(service, step.operation)(intent_id, **step.kwargs)
        except CardError as error:
            result = error
        except PaymentIntentError as error:
            if step.operation == "create":
                results.append(error)
                return results
            result = error
        if intent_id is None:
            created = result.payment_intent if isinstance(result, CardError) else result
            assert isinstance(created, PaymentIntent)
            intent_id = created.id
        results.append(result)
    return results
