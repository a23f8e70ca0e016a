"""Bad requests after the hold are refused with a typed error naming what is wrong, and store
nothing: refunds of what is not there or was never collected, amounts out of bounds, increments
and captures the hold no longer allows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from payment_intent import InMemoryStore, ManualClock, PaymentIntent, PaymentIntents
from payment_intent.errors import InvalidRequestError

pytestmark = pytest.mark.payment_intent_stores("memory")  # snapshots are the in-memory store's

EVERYTHING = {
    "card": {
        "request_multicapture": "if_available",
        "request_incremental_authorization": "if_available",
    }
}


def hold(svc: PaymentIntents, **options: Any) -> PaymentIntent:
    return svc.create(
        amount=10_000,
        currency="eur",
        capture_method="manual",
        payment_method="pm_card_visa",
        confirm=True,
        **options,
    )


def paid(svc: PaymentIntents) -> PaymentIntent:
    return svc.create(amount=10_000, currency="eur", payment_method="pm_card_visa", confirm=True)


def refused(svc: PaymentIntents, request: Callable[[], Any]) -> InvalidRequestError:
    """Run ``request``, which must be refused and leave the store byte for byte as it was."""
    store = svc.store
    assert isinstance(store, InMemoryStore)
    before = store.snapshot()
    with pytest.raises(InvalidRequestError) as raised:
        request()
    assert store.snapshot() == before, "a refused request changed the store"
    return raised.value


def test_a_refund_of_an_intent_that_does_not_exist_is_resource_missing(
    svc: PaymentIntents,
) -> None:
    paid(svc)
    error = refused(svc, lambda: svc.refund("pi_000000000000000000000000"))
    assert (error.code, error.param, error.http_status) == ("resource_missing", "intent", 404)


@pytest.mark.parametrize("operation", ["retrieve_refund", "update_refund", "cancel_refund"])
def test_an_operation_on_a_refund_that_does_not_exist_is_resource_missing(
    svc: PaymentIntents, operation: str
) -> None:
    svc.refund(paid(svc).id, amount=100)
    error = refused(svc, lambda: getattr(svc, operation)("re_000000000000000000000000"))
    assert (error.code, error.param) == ("resource_missing", "refund")


def test_settling_a_refund_that_does_not_exist_is_resource_missing(svc: PaymentIntents) -> None:
    error = refused(svc, lambda: svc.settle_refund("re_000000000000000000000000"))
    assert (error.code, error.param) == ("resource_missing", "refund")


@pytest.mark.parametrize("amount", [0, -1, -10_000])
def test_a_refund_of_zero_or_less_is_too_small(svc: PaymentIntents, amount: int) -> None:
    intent = paid(svc)
    error = refused(svc, lambda: svc.refund(intent.id, amount=amount))
    assert (error.code, error.param) == ("amount_too_small", "amount")


def test_refunds_past_what_is_left_are_too_large_and_name_what_is_left(
    svc: PaymentIntents,
) -> None:
    intent = paid(svc)
    svc.refund(intent.id, amount=6_000)
    error = refused(svc, lambda: svc.refund(intent.id, amount=4_001))
    assert (error.code, error.param) == ("amount_too_large", "amount")
    assert "(4000)" in str(error)


def test_a_hold_never_captured_is_not_refunded_but_released_by_cancel(
    svc: PaymentIntents,
) -> None:
    held = hold(svc)
    error = refused(svc, lambda: svc.refund(held.id, amount=100))
    assert (error.code, error.param) == ("charge_not_captured", "payment_intent")


def test_an_intent_that_never_paid_is_not_refunded(svc: PaymentIntents) -> None:
    intent = svc.create(amount=10_000, currency="eur")
    error = refused(svc, lambda: svc.refund(intent.id))
    assert error.code == "payment_intent_unexpected_state"


def test_a_reason_only_the_library_gives_is_refused(svc: PaymentIntents) -> None:
    intent = paid(svc)
    error = refused(svc, lambda: svc.refund(intent.id, reason="expired_uncaptured_charge"))
    assert (error.code, error.param) == ("parameter_invalid", "reason")


def test_a_reason_the_provider_does_not_know_leaves_a_lapsed_hold_unexpired(
    svc: PaymentIntents, clock: ManualClock
) -> None:
    """A malformed parameter is refused before the intent is read, so the request changes
    nothing, not even the expiry a well-formed request would record first."""
    intent = hold(svc)
    clock.advance(8 * 24 * 3600)
    error = refused(svc, lambda: svc.refund(intent.id, reason="changed_my_mind"))
    assert (error.code, error.param) == ("parameter_invalid", "reason")


def test_an_increment_outside_requires_capture_is_refused(svc: PaymentIntents) -> None:
    intent = paid(svc)
    error = refused(svc, lambda: svc.increment_authorization(intent.id, amount=20_000))
    assert error.code == "payment_intent_unexpected_state"
    assert "status of succeeded" in str(error)


def test_an_increment_of_a_hold_not_granted_it_is_refused(svc: PaymentIntents) -> None:
    held = hold(svc)  # asked for nothing
    error = refused(svc, lambda: svc.increment_authorization(held.id, amount=20_000))
    assert error.code == "payment_intent_unexpected_state"
    assert "not granted incremental authorization" in str(error)


@pytest.mark.parametrize("amount", [10_000, 9_999, 1])
def test_an_increment_must_raise_the_amount(svc: PaymentIntents, amount: int) -> None:
    held = hold(svc, payment_method_options=EVERYTHING)
    error = refused(svc, lambda: svc.increment_authorization(held.id, amount=amount))
    assert (error.code, error.param) == ("parameter_invalid", "amount")


def test_an_increment_after_a_capture_is_refused(svc: PaymentIntents) -> None:
    held = hold(svc, payment_method_options=EVERYTHING)
    svc.capture(held.id, amount_to_capture=1_000, final_capture=False)
    error = refused(svc, lambda: svc.increment_authorization(held.id, amount=20_000))
    assert error.code == "payment_intent_unexpected_state"


def test_a_capture_after_the_final_capture_is_refused(svc: PaymentIntents) -> None:
    held = hold(svc, payment_method_options=EVERYTHING)
    svc.capture(held.id, amount_to_capture=1_000, final_capture=False)
    svc.capture(held.id, amount_to_capture=1_000)  # final by default: the rest is released
    error = refused(svc, lambda: svc.capture(held.id, amount_to_capture=1_000))
    assert error.code == "payment_intent_unexpected_state"
    assert "status of succeeded" in str(error)


def test_keeping_the_rest_of_a_hold_without_multicapture_is_refused(
    svc: PaymentIntents,
) -> None:
    held = hold(svc)
    error = refused(svc, lambda: svc.capture(held.id, amount_to_capture=1_000, final_capture=False))
    assert (error.code, error.param) == ("parameter_invalid", "final_capture")


def test_payrex_refuses_the_flexible_acquiring_options_naming_them(
    payrex: PaymentIntents,
) -> None:
    error = refused(
        payrex,
        lambda: payrex.create(
            amount=5_000,
            currency="php",
            payment_method_options={"card": {"request_multicapture": "if_available"}},
        ),
    )
    assert error.code == "parameter_invalid"
    assert error.param == "payment_method_options[card][request_multicapture]"
