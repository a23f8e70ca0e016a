"""Every operation refused in every status, under both profiles, says so in one wording.

Which statuses an operation accepts is written once, in the transition table (narrowed by the
profile for cancel); the refusal is built by one function from the table's row. These tests pin
the exact words for every (profile, operation, status) a caller can meet.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from payment_intent import ManualClock, PaymentIntent, PaymentIntents
from payment_intent.domain.lifecycle import (
    ANNOTATE,
    CANCEL,
    CAPTURE,
    COMPLETE_ACTION,
    CONFIRM,
    INCREMENT,
    REFUND,
    SETTLE,
    UPDATE,
    Operation,
    accepted,
)
from payment_intent.domain.profiles import get_profile
from payment_intent.errors import InvalidRequestError
from payment_intent.testing.plugin import PaymentIntentsFactory

PROFILES = ("casapay", "payrex")


def _in(svc: PaymentIntents, clock: ManualClock, status: str) -> PaymentIntent:
    """A new intent of ``svc``'s profile, brought to ``status``."""
    payrex = svc.profile.name == "payrex"
    amount, currency = (5000, "php") if payrex else (5000, "eur")
    card = "pm_card_visa"
    manual = (
        {"payment_method_options": {"card": {"capture_type": "manual"}}}
        if payrex
        else {"capture_method": "manual"}
    )
    if status == "requires_payment_method":
        return svc.create(amount=amount, currency=currency)
    if status == "requires_confirmation":
        return svc.create(amount=amount, currency=currency, payment_method=card)
    if status == "requires_action":
        method = "pm_gcash" if payrex else "pm_card_threeDSecure2Required"
        types = ["gcash"] if payrex else ["card"]
        intent = svc.create(
            amount=amount, currency=currency, payment_method_types=types, payment_method=method
        )
        return svc.confirm(intent.id, return_url="https://example.com/back")
    if status == "processing":
        intent = svc.create(
            amount=amount,
            currency=currency,
            payment_method_types=["open_banking"],
            payment_method="pm_open_banking",
        )
        return svc.confirm(intent.id)
    if status == "requires_capture":
        intent = svc.create(amount=amount, currency=currency, payment_method=card, **manual)
        return svc.confirm(intent.id)
    if status == "succeeded":
        intent = svc.create(amount=amount, currency=currency, payment_method=card)
        return svc.confirm(intent.id)
    assert status == "canceled"
    intent = svc.create(amount=amount, currency=currency)
    return svc.cancel(intent.id)


#: What each operation is, as a caller makes it, with the parameter its refusal names.
ATTEMPTS: dict[str, tuple[Operation, Callable[[PaymentIntents, str], object], str | None]] = {
    "confirm": (CONFIRM, lambda svc, i: svc.confirm(i, payment_method="pm_card_visa"), None),
    "update(amount)": (UPDATE, lambda svc, i: svc.update(i, amount=6000), "amount"),
    "update(capture_method)": (
        UPDATE,
        lambda svc, i: svc.update(i, capture_method="manual"),
        "capture_method",
    ),
    "update(description)": (ANNOTATE, lambda svc, i: svc.update(i, description="x"), None),
    "capture": (CAPTURE, lambda svc, i: svc.capture(i, amount_to_capture=5000), None),
    "cancel": (CANCEL, lambda svc, i: svc.cancel(i), None),
    "complete_action": (COMPLETE_ACTION, lambda svc, i: svc.complete_action(i), None),
    "settle": (SETTLE, lambda svc, i: svc.settle(i), None),
    "increment_authorization": (
        INCREMENT,
        lambda svc, i: svc.increment_authorization(i, amount=6000),
        None,
    ),
    "refund": (REFUND, lambda svc, i: svc.refund(i), None),
}

VERBS = {
    "confirm": "confirmed",
    "update(amount)": "updated",
    "update(capture_method)": "updated",
    "update(description)": "updated",
    "capture": "captured",
    "cancel": "canceled",
    "complete_action": "authenticated",
    "settle": "settled",
    "increment_authorization": "incremented",
    "refund": "refunded",
}

STATUSES = (
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
    "processing",
    "requires_capture",
    "succeeded",
    "canceled",
)


#: The statuses in which SPEC sections 2, 9 and 10 let each operation act, in the statuses' order.
#: Written out here, not read from the transition table, so a wrong row in the table fails.
ATTEMPTABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
ACCEPTS: dict[str, tuple[str, ...]] = {
    "confirm": ATTEMPTABLE,
    "update(amount)": ATTEMPTABLE,
    "update(capture_method)": ATTEMPTABLE,
    "update(description)": STATUSES[:-1],
    "capture": ("requires_capture",),
    "cancel": (*ATTEMPTABLE, "requires_capture"),
    "complete_action": ("requires_action",),
    "settle": ("processing",),
    "increment_authorization": ("requires_capture",),
    # between the captures of a multicapture, what was collected may be refunded
    "refund": ("requires_capture", "succeeded"),
}
PAYREX_CANCELS = ("requires_payment_method", "requires_confirmation")


def accepts(profile: str, attempt: str) -> tuple[str, ...]:
    return PAYREX_CANCELS if (profile, attempt) == ("payrex", "cancel") else ACCEPTS[attempt]


def _cases() -> list[tuple[str, str, str]]:
    cases = []
    for profile in PROFILES:
        for name in ATTEMPTS:
            for status in STATUSES:
                if profile == "payrex" and status == "processing":
                    continue  # PayRex has no asynchronous method that waits to settle
                if status not in accepts(profile, name):
                    cases.append((profile, name, status))
    return cases


@pytest.mark.parametrize(("profile", "attempt", "status"), _cases())
def test_a_refused_operation_names_what_it_tried_the_status_it_met_and_what_would_do(
    payment_intents_factory: PaymentIntentsFactory,
    manual_clock: ManualClock,
    profile: str,
    attempt: str,
    status: str,
) -> None:
    svc = payment_intents_factory(profile, clock=manual_clock)
    intent = _in(svc, manual_clock, status)
    assert intent.status == status
    _, call, param = ATTEMPTS[attempt]
    allowed = ", ".join(accepts(profile, attempt))
    verb = VERBS[attempt]
    subject = f"This PaymentIntent's {param}" if param else "This PaymentIntent"

    with pytest.raises(InvalidRequestError) as refused:
        call(svc, intent.id)

    assert refused.value.code == "payment_intent_unexpected_state"
    assert refused.value.param == param
    assert refused.value.message == (
        f"{subject} could not be {verb} because it has a status of {status}. Only a "
        f"PaymentIntent with one of the following statuses may be {verb}: {allowed}."
    )
    assert svc.retrieve(intent.id) == intent, "a refusal changes nothing stored"


def test_cancel_refused_by_the_payrex_profile_says_canceled(
    payment_intents_factory: PaymentIntentsFactory, manual_clock: ManualClock
) -> None:
    svc = payment_intents_factory("payrex", clock=manual_clock)
    held = _in(svc, manual_clock, "requires_capture")
    with pytest.raises(InvalidRequestError, match="could not be canceled because") as refused:
        svc.cancel(held.id)
    assert "may be canceled: requires_payment_method, requires_confirmation." in str(refused.value)


def test_a_payrex_capture_without_an_amount_names_amount_to_capture_to_python_callers(
    payment_intents_factory: PaymentIntentsFactory, manual_clock: ManualClock
) -> None:
    svc = payment_intents_factory("payrex", clock=manual_clock)
    held = _in(svc, manual_clock, "requires_capture")
    with pytest.raises(InvalidRequestError) as refused:
        svc.capture(held.id)
    assert (refused.value.code, refused.value.param) == ("parameter_missing", "amount_to_capture")
    assert refused.value.message == "Missing required param: amount_to_capture."


def test_the_statuses_each_operation_accepts_come_from_the_transition_table() -> None:
    assert [s.value for s in accepted(CAPTURE)] == ["requires_capture"]
    assert [s.value for s in accepted(COMPLETE_ACTION)] == ["requires_action"]
    assert [s.value for s in accepted(SETTLE)] == ["processing"]
    assert [s.value for s in accepted(CANCEL, get_profile("payrex").cancelable)] == [
        "requires_payment_method",
        "requires_confirmation",
    ]
    assert "succeeded" in {s.value for s in accepted(ANNOTATE)}
    assert "canceled" not in {s.value for s in accepted(ANNOTATE)}
