"""What create, update and confirm keep on the intent, field by field, and which parameter a
refusal names when a request gets several wrong."""

from __future__ import annotations

import pytest

from payment_intent import ManualClock, PaymentIntent, PaymentIntents
from payment_intent.domain.aggregate import CHARGES_KEPT
from payment_intent.errors import CardError, PaymentIntentError

SHIPPING = {
    "name": "Ada Lovelace",
    "address": {"line1": "12 St James's Square", "city": "London", "country": "GB"},
}


def test_an_intent_keeps_its_ten_newest_charges() -> None:
    svc = PaymentIntents()
    intent = svc.create(amount=1000, currency="eur")
    for _ in range(CHARGES_KEPT + 2):
        with pytest.raises(PaymentIntentError):
            svc.confirm(intent.id, payment_method="pm_card_visa_chargeDeclined")
    paid = svc.confirm(intent.id, payment_method="pm_card_visa")
    assert CHARGES_KEPT == 10
    assert len(paid.charges) == 10
    assert [c.status for c in paid.charges] == ["failed"] * 9 + ["succeeded"]


def test_shipping_given_at_create_is_kept_and_an_empty_string_clears_it() -> None:
    svc = PaymentIntents()
    intent = svc.create(amount=1000, currency="eur", shipping=SHIPPING)
    assert intent.shipping is not None
    assert (intent.shipping.name, intent.shipping.address.city) == ("Ada Lovelace", "London")
    assert svc.update(intent.id, shipping="").shipping is None


def test_an_update_of_the_currency_changes_it_and_checks_the_amount_in_it() -> None:
    svc = PaymentIntents()
    intent = svc.create(amount=1000, currency="eur")
    updated = svc.update(intent.id, currency="jpy")
    assert (updated.currency, updated.amount) == ("jpy", 1000)
    with pytest.raises(PaymentIntentError) as refused:
        svc.update(intent.id, currency="usd", amount=10)  # under the minimum charge
    assert refused.value.param == "amount"


def test_a_bad_statement_descriptor_suffix_is_named_as_such() -> None:
    svc = PaymentIntents()
    with pytest.raises(PaymentIntentError) as refused:
        svc.create(amount=1000, currency="eur", statement_descriptor_suffix="<bad>")
    assert refused.value.param == "statement_descriptor_suffix"


def test_an_update_of_several_fields_a_status_forbids_names_the_first_in_order() -> None:
    svc = PaymentIntents()
    paid = svc.create(amount=1000, currency="eur", payment_method="pm_card_visa", confirm=True)
    with pytest.raises(PaymentIntentError) as refused:
        svc.update(paid.id, currency="usd", amount=2000)
    assert refused.value.code == "payment_intent_unexpected_state"
    assert refused.value.param == "amount"


def test_an_update_keeps_each_field_it_is_given() -> None:
    svc = PaymentIntents()
    intent = svc.create(amount=1000, currency="eur")
    updated = svc.update(
        intent.id,
        payment_method_types=["card", "direct_debit"],
        payment_method_options={"card": {"request_multicapture": "if_available"}},
        capture_method="manual",
        statement_descriptor="ACME SHOP",
        statement_descriptor_suffix="ORDER 42",
    )
    assert updated.payment_method_types == ("card", "direct_debit")
    assert updated.payment_method_options is not None
    assert updated.payment_method_options.card is not None
    assert updated.payment_method_options.card.request_multicapture == "if_available"
    assert updated.capture_method == "manual"
    assert (updated.statement_descriptor, updated.statement_descriptor_suffix) == (
        "ACME SHOP",
        "ORDER 42",
    )
    assert svc.update(intent.id, statement_descriptor_suffix="").statement_descriptor_suffix is None


def test_an_update_checks_the_suffix_it_is_given() -> None:
    svc = PaymentIntents()
    intent = svc.create(amount=1000, currency="eur")
    with pytest.raises(PaymentIntentError) as refused:
        svc.update(intent.id, statement_descriptor_suffix="<bad>")
    assert refused.value.param == "statement_descriptor_suffix"


def test_narrowing_the_types_past_the_attached_method_is_refused() -> None:
    svc = PaymentIntents()
    intent = svc.create(
        amount=1000,
        currency="eur",
        payment_method_types=["card", "direct_debit"],
        payment_method="pm_card_visa",
    )
    with pytest.raises(PaymentIntentError) as refused:
        svc.update(intent.id, payment_method_types=["direct_debit"])
    assert refused.value.param == "payment_method_types"
    assert svc.update(intent.id, payment_method_types=["card"]).payment_method == "pm_card_visa"


# -- what an attempt leaves behind ----------------------------------------------------------------


def test_a_decline_is_a_card_error_naming_the_payment_method() -> None:
    svc = PaymentIntents()
    intent = svc.create(amount=1000, currency="eur")
    with pytest.raises(CardError) as declined:
        svc.confirm(intent.id, payment_method="pm_card_visa_chargeDeclined")
    assert declined.value.param == "payment_method"
    failed = svc.retrieve(intent.id)
    assert failed.last_payment_error is not None
    assert failed.last_payment_error.type == "card_error"


def test_a_failed_authentication_is_an_invalid_request_error_on_the_intent() -> None:
    svc = PaymentIntents()
    intent = svc.create(
        amount=1000, currency="eur", payment_method="pm_card_threeDSecure2Required", confirm=True
    )
    assert intent.status == "requires_action"
    failed = svc.complete_action(intent.id, succeed=False)
    assert failed.last_payment_error is not None
    assert (failed.last_payment_error.type, failed.last_payment_error.code) == (
        "invalid_request_error",
        "payment_intent_authentication_failure",
    )


def test_a_settled_bank_debit_resolves_its_own_pending_charge_after_a_declined_card() -> None:
    clock = ManualClock(1_700_000_000)
    svc = PaymentIntents(clock=clock)
    intent = svc.create(amount=1000, currency="eur", payment_method_types=["card", "direct_debit"])
    with pytest.raises(CardError):
        svc.confirm(intent.id, payment_method="pm_card_visa_chargeDeclined")
    pending = svc.confirm(intent.id, payment_method="pm_direct_debit")
    clock.advance(3600)
    settled = svc.settle(intent.id)
    declined, debit = settled.charges
    assert declined.status == "failed"
    assert (debit.id, debit.created, debit.status) == (
        pending.charges[-1].id,
        pending.charges[-1].created,
        "succeeded",
    )


def test_an_authentication_is_asked_again_after_the_authenticated_attempt_is_declined() -> None:
    """With manual confirmation the customer authenticates before the server confirms; once that
    attempt is declined, the next confirm with the same card must authenticate afresh."""
    card = "pm_card_threeDSecureRequiredChargeDeclined"
    svc = PaymentIntents()
    intent = svc.create(
        amount=1000, currency="eur", confirmation_method="manual", payment_method=card
    )
    assert svc.confirm(intent.id).status == "requires_action"
    assert svc.complete_action(intent.id).status == "requires_confirmation"
    with pytest.raises(CardError):
        svc.confirm(intent.id)
    assert svc.confirm(intent.id, payment_method=card).status == "requires_action"


FIRST, SECOND = "pm_card_threeDSecure2Required", "pm_card_authenticationRequired"


def authenticated(svc: PaymentIntents, card: str) -> PaymentIntent:
    """An intent confirmed by hand whose customer has authenticated ``card``: the server's
    next confirm does not ask again."""
    intent = svc.create(
        amount=1000, currency="eur", confirmation_method="manual", payment_method=card
    )
    svc.confirm(intent.id)
    back = svc.complete_action(intent.id)
    assert back.status == "requires_confirmation"
    return back


def test_confirming_another_method_forgets_the_authentication_of_the_first() -> None:
    svc = PaymentIntents()
    intent = authenticated(svc, FIRST)
    assert svc.confirm(intent.id, payment_method=SECOND).status == "requires_action"
    assert svc.confirm(intent.id, payment_method=FIRST).status == "requires_action"


def test_an_intent_built_by_hand_starts_with_nothing_capturable_or_received() -> None:
    intent = PaymentIntent(
        id="pi_1", amount=1000, currency="eur", status="requires_payment_method", created=1,
        client_secret="pi_1_secret_x",
        updated_at=1,
    )  # fmt: skip
    assert (intent.amount_capturable, intent.amount_received) == (0, 0)


RESTRICTED = {
    "amount": 2000,
    "currency": "usd",
    "payment_method": "pm_card_mastercard",
    "payment_method_types": ["card"],
    "capture_method": "manual",
    "statement_descriptor": "ACME SHOP",
    "statement_descriptor_suffix": "ORDER 42",
    "payment_method_options": {"card": {"request_multicapture": "never"}},
    "customer": "cus_2",
    "setup_future_usage": "off_session",
}
NOTES = {
    "description": "a gift",
    "metadata": {"order": "42"},
    "receipt_email": "ada@example.com",
    "shipping": SHIPPING,
}


@pytest.mark.parametrize("field", sorted(RESTRICTED))
def test_a_paid_intent_refuses_a_change_to_what_was_paid_naming_it(field: str) -> None:
    svc = PaymentIntents()
    paid = svc.create(amount=1000, currency="eur", payment_method="pm_card_visa", confirm=True)
    with pytest.raises(PaymentIntentError) as refused:
        svc.update(paid.id, **{field: RESTRICTED[field]})
    assert (refused.value.code, refused.value.param) == ("payment_intent_unexpected_state", field)


@pytest.mark.parametrize("field", sorted(NOTES))
def test_a_paid_intent_still_takes_notes(field: str) -> None:
    svc = PaymentIntents()
    paid = svc.create(amount=1000, currency="eur", payment_method="pm_card_visa", confirm=True)
    assert svc.update(paid.id, **{field: NOTES[field]}).version == paid.version + 1


def test_an_update_sets_the_amount_and_the_shipping_and_clears_the_last_error() -> None:
    svc = PaymentIntents()
    intent = svc.create(amount=1000, currency="eur")
    with pytest.raises(CardError):
        svc.confirm(intent.id, payment_method="pm_card_visa_chargeDeclined")
    updated = svc.update(intent.id, amount=2500, shipping=SHIPPING)
    assert (updated.amount, updated.last_payment_error) == (2500, None)
    assert updated.shipping is not None
    assert updated.shipping.name == "Ada Lovelace"


def test_a_new_currency_alone_is_checked_against_the_amount_already_there() -> None:
    svc = PaymentIntents()
    intent = svc.create(amount=100, currency="eur")
    with pytest.raises(PaymentIntentError) as refused:
        svc.update(intent.id, currency="czk")  # its minimum is 15.00 CZK
    assert refused.value.param == "amount"


def test_updating_the_method_forgets_the_authentication_of_the_one_before() -> None:
    svc = PaymentIntents()
    intent = authenticated(svc, FIRST)
    svc.update(intent.id, payment_method=SECOND)
    svc.update(intent.id, payment_method=FIRST)
    assert svc.confirm(intent.id).status == "requires_action"
