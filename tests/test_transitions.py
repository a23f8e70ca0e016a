"""One test (or more) per row of SPEC section 2, in both profiles where they differ."""

from __future__ import annotations

import pytest

from payment_intent import ManualClock, PaymentIntent, PaymentIntents, SimulatedProcessor, Status
from payment_intent.domain.outcomes import Attempt, Outcome, Pending
from payment_intent.errors import CardError, InvalidRequestError
from payment_intent.testing import assert_invariants
from tests.helpers import hold

# Every test here runs over each store the kit offers (see tests/conftest.py).
pytestmark = pytest.mark.payment_intent_stores("memory", "sqlite")

WEEK = 7 * 24 * 3600


def event_types(svc: PaymentIntents, intent_id: str) -> list[str]:
    return [e.type for e in svc.events(limit=1000).data if e.intent_id == intent_id]


def in_status(svc: PaymentIntents, status: Status) -> PaymentIntent:
    """An intent brought to ``status`` through the public operations."""
    if status is Status.REQUIRES_PAYMENT_METHOD:
        return svc.create(amount=5_000, currency="eur")
    if status is Status.REQUIRES_CONFIRMATION:
        return svc.create(amount=5_000, currency="eur", payment_method="pm_card_visa")
    if status is Status.REQUIRES_ACTION:
        return svc.create(
            amount=5_000,
            currency="eur",
            payment_method="pm_card_threeDSecure2Required",
            confirm=True,
        )
    if status is Status.PROCESSING:
        return svc.create(
            amount=5_000,
            currency="eur",
            payment_method_types=["direct_debit"],
            payment_method="pm_direct_debit",
            confirm=True,
        )
    if status is Status.REQUIRES_CAPTURE:
        return hold(svc, 5_000)
    if status is Status.SUCCEEDED:
        return svc.create(amount=5_000, currency="eur", payment_method="pm_card_visa", confirm=True)
    return svc.cancel(svc.create(amount=5_000, currency="eur").id)


# -- create ------------------------------------------------------------------------------------


def test_create_without_a_payment_method_requires_one(svc: PaymentIntents) -> None:
    pi = svc.create(amount=120_000, currency="eur")
    assert pi.status is Status.REQUIRES_PAYMENT_METHOD
    assert (pi.version, pi.created, pi.updated_at) == (1, 1_706_140_800, 1_706_140_800)
    assert pi.client_secret.startswith(f"{pi.id}_secret_")
    assert pi.payment_method_types == ("card",)
    assert event_types(svc, pi.id) == ["payment_intent.created"]


def test_create_with_a_payment_method_requires_confirmation(svc: PaymentIntents) -> None:
    pi = svc.create(amount=120_000, currency="eur", payment_method="pm_card_visa")
    assert pi.status is Status.REQUIRES_CONFIRMATION
    assert pi.payment_method == "pm_card_visa"


def test_create_with_confirm_is_one_version_with_both_events(svc: PaymentIntents) -> None:
    pi = svc.create(amount=120_000, currency="eur", payment_method="pm_card_visa", confirm=True)
    assert pi.status is Status.SUCCEEDED
    assert pi.version == 1
    assert event_types(svc, pi.id) == ["payment_intent.created", "payment_intent.succeeded"]


def test_create_with_confirm_and_no_payment_method_stores_nothing(
    svc: PaymentIntents, store: object
) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        svc.create(amount=120_000, currency="eur", confirm=True)
    assert raised.value.code == "payment_intent_unexpected_state"
    assert raised.value.param == "payment_method"
    assert svc.list().data == []
    assert svc.events().data == []


@pytest.mark.parametrize("usage", ["off_session", "on_session"])
def test_setup_future_usage_is_recorded_and_stored(svc: PaymentIntents, usage: str) -> None:
    pi = svc.create(amount=5_000, currency="eur", setup_future_usage=usage)
    assert svc.retrieve(pi.id).setup_future_usage == usage


# -- update ------------------------------------------------------------------------------------


def test_update_with_a_payment_method_moves_to_requires_confirmation(svc: PaymentIntents) -> None:
    pi = svc.create(amount=5_000, currency="eur")
    pi = svc.update(pi.id, payment_method="pm_card_visa")
    assert pi.status is Status.REQUIRES_CONFIRMATION
    assert pi.version == 2
    assert event_types(svc, pi.id) == ["payment_intent.created"]


@pytest.mark.parametrize("status", [Status.REQUIRES_CONFIRMATION, Status.REQUIRES_ACTION])
def test_update_with_a_new_payment_method_returns_to_confirmation(
    svc: PaymentIntents, status: Status
) -> None:
    pi = in_status(svc, status)
    pi = svc.update(pi.id, payment_method="pm_card_mastercard")
    assert pi.status is Status.REQUIRES_CONFIRMATION
    assert pi.next_action is None
    assert pi.payment_method == "pm_card_mastercard"


# -- confirm -----------------------------------------------------------------------------------

ATTEMPTABLE = [Status.REQUIRES_PAYMENT_METHOD, Status.REQUIRES_CONFIRMATION, Status.REQUIRES_ACTION]


@pytest.mark.parametrize("status", ATTEMPTABLE)
def test_confirm_needing_authentication_requires_action(
    svc: PaymentIntents, status: Status
) -> None:
    pi = in_status(svc, status)
    pi = svc.confirm(
        pi.id,
        payment_method="pm_card_threeDSecure2Required",
        return_url="https://shop.example/back",
    )
    assert pi.status is Status.REQUIRES_ACTION
    assert pi.next_action is not None
    assert pi.next_action.redirect_url.startswith("https://hooks.payment-intent.test/redirect/")
    assert pi.next_action.return_url == "https://shop.example/back"
    assert event_types(svc, pi.id)[-1] == "payment_intent.requires_action"


@pytest.mark.parametrize("status", ATTEMPTABLE)
def test_confirm_approved_with_automatic_capture_succeeds(
    svc: PaymentIntents, status: Status
) -> None:
    pi = in_status(svc, status)
    pi = svc.confirm(pi.id, payment_method="pm_card_visa")
    assert pi.status is Status.SUCCEEDED
    assert pi.amount_received == pi.amount
    charge = pi.charges[-1]
    assert (charge.status, charge.captured, charge.amount_captured) == (
        "succeeded",
        True,
        pi.amount,
    )
    assert pi.next_action is None
    assert event_types(svc, pi.id)[-1] == "payment_intent.succeeded"


def test_asynchronous_capture_collects_at_once_like_automatic(svc: PaymentIntents) -> None:
    pi = svc.create(
        amount=5_000,
        currency="eur",
        capture_method="automatic_async",
        payment_method="pm_card_visa",
        confirm=True,
    )
    assert (pi.capture_method, pi.status, pi.amount_received) == (
        "automatic_async",
        Status.SUCCEEDED,
        5_000,
    )


def test_payrex_has_no_asynchronous_capture(payrex: PaymentIntents) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        payrex.create(amount=5_000, currency="php", capture_method="automatic_async")
    assert (refused.value.code, refused.value.param) == ("parameter_invalid", "capture_method")


def test_confirm_approved_with_manual_capture_holds_the_funds(
    svc: PaymentIntents, clock: ManualClock
) -> None:
    pi = svc.create(amount=120_000, currency="eur", capture_method="manual")
    pi = svc.confirm(pi.id, payment_method="pm_card_visa")
    assert pi.status is Status.REQUIRES_CAPTURE
    assert pi.amount_capturable == 120_000
    assert pi.amount_received == 0
    assert pi.capture_before_at == clock.now() + WEEK
    assert (pi.charges[-1].status, pi.charges[-1].captured) == ("succeeded", False)
    assert event_types(svc, pi.id)[-1] == "payment_intent.amount_capturable_updated"


def test_confirm_with_an_asynchronous_method_is_processing(svc: PaymentIntents) -> None:
    pi = in_status(svc, Status.PROCESSING)
    assert pi.status is Status.PROCESSING
    assert pi.charges[-1].status == "pending"
    assert event_types(svc, pi.id)[-1] == "payment_intent.processing"


@pytest.mark.parametrize(
    ("method", "code", "decline_code"),
    [
        ("pm_card_visa_chargeDeclined", "card_declined", "generic_decline"),
        ("pm_card_visa_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
        ("pm_card_visa_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
    ],
)
def test_a_declined_confirm_is_recorded_then_raised(
    svc: PaymentIntents, method: str, code: str, decline_code: str
) -> None:
    pi = svc.create(amount=5_000, currency="eur", payment_method=method)
    with pytest.raises(CardError) as raised:
        svc.confirm(pi.id)
    error = raised.value
    assert (error.type, error.code, error.decline_code, error.http_status) == (
        "card_error",
        code,
        decline_code,
        402,
    )
    stored = svc.retrieve(pi.id)
    assert error.payment_intent == stored
    assert stored.status is Status.REQUIRES_PAYMENT_METHOD
    assert stored.payment_method is None
    assert stored.last_payment_error is not None
    assert stored.last_payment_error.code == code
    assert stored.charges[-1].status == "failed"
    assert event_types(svc, pi.id)[-1] == "payment_intent.payment_failed"


def test_confirm_without_any_payment_method_names_it(svc: PaymentIntents) -> None:
    pi = svc.create(amount=5_000, currency="eur")
    with pytest.raises(InvalidRequestError) as raised:
        svc.confirm(pi.id)
    assert raised.value.code == "payment_intent_unexpected_state"
    assert raised.value.param == "payment_method"
    assert "missing a payment method" in raised.value.message


# -- requires_action ---------------------------------------------------------------------------


def test_completing_the_action_decides_the_outcome(svc: PaymentIntents) -> None:
    pi = in_status(svc, Status.REQUIRES_ACTION)
    pi = svc.complete_action(pi.id, succeed=True)
    assert pi.status is Status.SUCCEEDED
    assert pi.next_action is None


def test_completing_the_action_can_still_be_declined(svc: PaymentIntents) -> None:
    pi = svc.create(
        amount=5_000,
        currency="eur",
        payment_method="pm_card_threeDSecureRequiredChargeDeclined",
        confirm=True,
    )
    pi = svc.complete_action(pi.id, succeed=True)
    assert pi.status is Status.REQUIRES_PAYMENT_METHOD
    assert pi.last_payment_error is not None
    assert pi.last_payment_error.code == "card_declined"


def test_completing_the_action_with_manual_capture_holds_the_funds(svc: PaymentIntents) -> None:
    pi = svc.create(
        amount=5_000,
        currency="eur",
        capture_method="manual",
        payment_method="pm_card_threeDSecure2Required",
        confirm=True,
    )
    pi = svc.complete_action(pi.id)
    assert pi.status is Status.REQUIRES_CAPTURE
    assert pi.amount_capturable == 5_000


class BankRedirectProcessor(SimulatedProcessor):
    """A processor whose redirect ends in an asynchronous payment (a bank's own page)."""

    def complete_authentication(self, attempt: Attempt) -> Outcome:
        return Pending()


def test_completing_the_action_can_start_an_asynchronous_payment(clock: ManualClock) -> None:
    svc = PaymentIntents(clock=clock, processor=BankRedirectProcessor())
    pi = svc.create(
        amount=5_000, currency="eur", payment_method="pm_card_authenticationRequired", confirm=True
    )
    pi = svc.complete_action(pi.id)
    assert pi.status is Status.PROCESSING
    assert event_types(svc, pi.id)[-1] == "payment_intent.processing"


def test_failed_authentication_returns_to_requires_payment_method(svc: PaymentIntents) -> None:
    pi = in_status(svc, Status.REQUIRES_ACTION)
    pi = svc.complete_action(pi.id, succeed=False)
    assert pi.status is Status.REQUIRES_PAYMENT_METHOD
    assert pi.last_payment_error is not None
    assert pi.last_payment_error.code == "payment_intent_authentication_failure"
    assert pi.payment_method is None
    assert event_types(svc, pi.id)[-1] == "payment_intent.payment_failed"


def test_manual_confirmation_returns_to_confirmation_after_the_action(svc: PaymentIntents) -> None:
    pi = svc.create(
        amount=5_000,
        currency="eur",
        confirmation_method="manual",
        payment_method="pm_card_threeDSecure2Required",
        confirm=True,
    )
    pi = svc.complete_action(pi.id)
    assert pi.status is Status.REQUIRES_CONFIRMATION
    pi = svc.confirm(pi.id)
    assert pi.status is Status.SUCCEEDED, "the completed authentication is not asked for again"


# -- processing --------------------------------------------------------------------------------


def test_settlement_success_collects_the_funds(svc: PaymentIntents) -> None:
    pi = in_status(svc, Status.PROCESSING)
    pending = pi.charges[-1].id
    pi = svc.settle(pi.id, succeed=True)
    assert pi.status is Status.SUCCEEDED
    assert pi.amount_received == pi.amount
    assert [c.id for c in pi.charges] == [pending], "the pending charge is resolved in place"
    assert event_types(svc, pi.id)[-1] == "payment_intent.succeeded"


def test_settlement_failure_needs_a_new_payment_method(svc: PaymentIntents) -> None:
    pi = in_status(svc, Status.PROCESSING)
    pi = svc.settle(pi.id, succeed=False)
    assert pi.status is Status.REQUIRES_PAYMENT_METHOD
    assert pi.last_payment_error is not None
    assert pi.charges[-1].status == "failed"
    assert event_types(svc, pi.id)[-1] == "payment_intent.payment_failed"


# -- requires_capture --------------------------------------------------------------------------


def test_capture_takes_the_whole_hold_by_default(svc: PaymentIntents) -> None:
    pi = svc.capture(hold(svc).id)
    assert pi.status is Status.SUCCEEDED
    assert (pi.amount_received, pi.amount_capturable) == (120_000, 0)
    assert pi.charges[-1].amount_refunded == 0


def test_partial_capture_releases_the_rest_on_the_charge(svc: PaymentIntents) -> None:
    pi = svc.capture(hold(svc).id, amount_to_capture=100_000)
    assert (pi.amount_received, pi.amount_capturable) == (100_000, 0)
    charge = pi.charges[-1]
    assert (charge.captured, charge.amount_captured, charge.amount_refunded) == (
        True,
        100_000,
        20_000,
    )
    assert event_types(svc, pi.id)[-1] == "payment_intent.succeeded"


def test_the_sweep_expires_a_lapsed_hold(svc: PaymentIntents, clock: ManualClock) -> None:
    pi = hold(svc)
    other = hold(svc)
    clock.advance(WEEK - 1)
    assert svc.expire_authorizations() == []
    clock.advance(1)
    expired = svc.expire_authorizations()
    assert sorted(i.id for i in expired) == sorted([pi.id, other.id])
    pi = svc.retrieve(pi.id)
    assert pi.status is Status.CANCELED
    assert pi.cancellation_reason == "automatic"
    assert pi.amount_capturable == 0
    assert pi.canceled_at == pi.capture_before_at
    assert pi.charges[-1].amount_refunded == 120_000, "the hold is released"
    assert event_types(svc, pi.id)[-1] == "payment_intent.canceled"
    assert svc.expire_authorizations() == []


@pytest.mark.parametrize("read", ["retrieve", "list"])
def test_no_read_returns_a_lapsed_hold(svc: PaymentIntents, clock: ManualClock, read: str) -> None:
    pi = hold(svc)
    clock.advance(WEEK)
    seen = svc.retrieve(pi.id) if read == "retrieve" else svc.list().data[0]
    assert seen.status is Status.CANCELED
    assert seen.cancellation_reason == "automatic"


def test_a_capture_at_capture_before_at_fails_and_leaves_the_intent_canceled(
    svc: PaymentIntents, clock: ManualClock
) -> None:
    pi = hold(svc)
    clock.advance(WEEK)
    with pytest.raises(InvalidRequestError) as raised:
        svc.capture(pi.id)
    assert raised.value.code == "payment_intent_unexpected_state"
    assert raised.value.payment_intent is not None
    assert raised.value.payment_intent.status is Status.CANCELED
    assert svc.retrieve(pi.id).cancellation_reason == "automatic"


# -- cancel ------------------------------------------------------------------------------------

CASAPAY_CANCELABLE = [*ATTEMPTABLE, Status.REQUIRES_CAPTURE]


@pytest.mark.parametrize("status", CASAPAY_CANCELABLE)
def test_cancel_from_each_cancelable_status(
    svc: PaymentIntents, clock: ManualClock, status: Status
) -> None:
    pi = in_status(svc, status)
    pi = svc.cancel(pi.id, cancellation_reason="abandoned")
    assert pi.status is Status.CANCELED
    assert (pi.cancellation_reason, pi.canceled_at) == ("abandoned", clock.now())
    assert pi.amount_capturable == 0
    assert event_types(svc, pi.id)[-1] == "payment_intent.canceled"


@pytest.mark.parametrize(
    "reason", ["duplicate", "fraudulent", "requested_by_customer", "abandoned"]
)
def test_cancel_records_each_reason_a_caller_may_give(svc: PaymentIntents, reason: str) -> None:
    pi = svc.cancel(svc.create(amount=5_000, currency="eur").id, cancellation_reason=reason)
    assert pi.cancellation_reason == reason


def test_cancel_without_a_reason_leaves_it_null(svc: PaymentIntents) -> None:
    pi = svc.cancel(svc.create(amount=5_000, currency="eur").id)
    assert pi.cancellation_reason is None


def test_canceling_a_hold_releases_it(svc: PaymentIntents) -> None:
    pi = svc.cancel(hold(svc).id)
    assert pi.charges[-1].amount_refunded == pi.charges[-1].amount


def test_processing_cannot_be_canceled(svc: PaymentIntents) -> None:
    pi = in_status(svc, Status.PROCESSING)
    with pytest.raises(InvalidRequestError) as raised:
        svc.cancel(pi.id)
    assert raised.value.code == "payment_intent_unexpected_state"


def test_automatic_is_not_a_reason_a_caller_may_give(svc: PaymentIntents) -> None:
    pi = svc.create(amount=5_000, currency="eur")
    with pytest.raises(InvalidRequestError) as raised:
        svc.cancel(pi.id, cancellation_reason="automatic")
    assert (raised.value.code, raised.value.param) == ("parameter_invalid", "cancellation_reason")


# -- terminal statuses -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.SUCCEEDED, Status.CANCELED])
@pytest.mark.parametrize(
    "operation",
    [
        ("confirm", {"payment_method": "pm_card_visa"}),
        ("capture", {}),
        ("cancel", {}),
        ("update", {"amount": 9_000}),
        ("update", {"payment_method": "pm_card_visa"}),
        ("complete_action", {}),
        ("settle", {}),
    ],
    ids=lambda op: op[0] + ("(" + ",".join(op[1]) + ")" if op[1] else ""),
)
def test_nothing_leaves_a_terminal_status(
    svc: PaymentIntents, status: Status, operation: tuple[str, dict[str, object]]
) -> None:
    pi = in_status(svc, status)
    name, kwargs = operation
    with pytest.raises(InvalidRequestError) as raised:
        getattr(svc, name)(pi.id, **kwargs)
    assert raised.value.code == "payment_intent_unexpected_state"
    assert raised.value.payment_intent == pi
    assert svc.retrieve(pi.id) == pi


def test_a_succeeded_intent_still_takes_metadata_and_description(svc: PaymentIntents) -> None:
    pi = in_status(svc, Status.SUCCEEDED)
    pi = svc.update(pi.id, metadata={"receipt": "r_1"}, description="Paid")
    assert (pi.metadata, pi.description, pi.status) == (
        {"receipt": "r_1"},
        "Paid",
        Status.SUCCEEDED,
    )


def test_a_canceled_intent_takes_no_update_at_all(svc: PaymentIntents) -> None:
    pi = in_status(svc, Status.CANCELED)
    with pytest.raises(InvalidRequestError) as raised:
        svc.update(pi.id, metadata={"note": "late"})
    assert "status of canceled" in raised.value.message


# -- PayRex profile ----------------------------------------------------------------------------


def payrex_hold(payrex: PaymentIntents, amount: int = 10_000) -> PaymentIntent:
    return payrex.create(
        amount=amount,
        currency="PHP",
        payment_method_options={"card": {"capture_type": "manual"}},
        payment_method="pm_card_visa",
        confirm=True,
    )


def test_payrex_holds_with_the_card_capture_type(payrex: PaymentIntents) -> None:
    pi = payrex_hold(payrex)
    assert pi.status is Status.REQUIRES_CAPTURE
    assert pi.currency == "php"
    pi = payrex.capture(pi.id, amount_to_capture=5_000)
    assert (pi.status, pi.amount_received) == (Status.SUCCEEDED, 5_000)


def test_payrex_wallets_redirect_then_capture_automatically(payrex: PaymentIntents) -> None:
    pi = payrex.create(
        amount=10_000,
        currency="PHP",
        payment_method_types=["card", "gcash"],
        payment_method_options={"card": {"capture_type": "manual"}},
        payment_method="pm_gcash",
        confirm=True,
    )
    assert pi.status is Status.REQUIRES_ACTION
    pi = payrex.complete_action(pi.id)
    assert (pi.status, pi.amount_received) == (Status.SUCCEEDED, 10_000)


def test_payrex_holds_a_card_but_collects_a_wallet_at_once_on_a_manual_capture_intent(
    payrex: PaymentIntents,
) -> None:
    """Under PayRex only a card can be held: a wallet's approval is its capture."""
    wallet = payrex.create(
        amount=10_000,
        currency="PHP",
        capture_method="manual",
        payment_method_types=["gcash"],
        payment_method="pm_gcash",
        confirm=True,
    )
    wallet = payrex.complete_action(wallet.id)
    assert (wallet.status, wallet.amount_received) == (Status.SUCCEEDED, 10_000)
    card = payrex.create(
        amount=10_000,
        currency="PHP",
        capture_method="manual",
        payment_method="pm_card_visa",
        confirm=True,
    )
    assert card.status is Status.REQUIRES_CAPTURE


@pytest.mark.parametrize("status", [Status.REQUIRES_PAYMENT_METHOD, Status.REQUIRES_CONFIRMATION])
def test_payrex_cancels_awaiting_payment_method_only(
    payrex: PaymentIntents, status: Status
) -> None:
    pi = payrex.create(
        amount=10_000,
        currency="PHP",
        payment_method="pm_card_visa" if status is Status.REQUIRES_CONFIRMATION else None,
    )
    assert payrex.cancel(pi.id).status is Status.CANCELED


def test_payrex_refuses_to_cancel_a_hold(payrex: PaymentIntents) -> None:
    pi = payrex_hold(payrex)
    with pytest.raises(InvalidRequestError) as raised:
        payrex.cancel(pi.id)
    assert raised.value.code == "payment_intent_unexpected_state"
    assert "requires_payment_method, requires_confirmation" in raised.value.message


def test_payrex_capture_requires_an_amount_of_at_least_2000(payrex: PaymentIntents) -> None:
    pi = payrex_hold(payrex)
    with pytest.raises(InvalidRequestError) as missing:
        payrex.capture(pi.id)
    assert (missing.value.code, missing.value.param) == ("parameter_missing", "amount_to_capture")
    with pytest.raises(InvalidRequestError) as small:
        payrex.capture(pi.id, amount_to_capture=1_999)
    assert small.value.code == "amount_too_small"
    assert payrex.capture(pi.id, amount_to_capture=2_000).amount_received == 2_000


def test_every_intent_of_these_tests_keeps_the_invariants(svc: PaymentIntents) -> None:
    for status in Status:
        assert_invariants(in_status(svc, status))
