"""The official ``payrex-python`` package, its base URL pointed at the local PayRex server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from payment_intent import InMemoryStore, ManualClock
from tests.wire.conftest import SEED_KEY, make_api, serving

payrex = pytest.importorskip("payrex")


class Checkout:
    """The SDK client, plus the customer's browser (the test-mode helpers over plain HTTP)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = payrex.Client(SEED_KEY)
        self.client.config.api_base_url = url

    def attach(self, intent_id: str, payment_method: str) -> dict[str, Any]:
        response = requests.post(
            f"{self.url}/test_helpers/payment_intents/{intent_id}/attach",
            data={"payment_method_id": payment_method, "return_url": "https://shop.test/back"},
            auth=(SEED_KEY, ""),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def checkout(store: InMemoryStore, clock: ManualClock) -> Iterator[Checkout]:
    with serving(make_api("payrex", store, clock)) as url:
        yield Checkout(url)


def test_hold_then_partial_capture(checkout: Checkout) -> None:
    intents = checkout.client.payment_intents
    intent = intents.create(
        {
            "amount": 10000,
            "currency": "PHP",
            "description": "Dinner for two",
            "payment_methods": ["card", "gcash"],
            "payment_method_options": {"card": {"capture_type": "manual"}},
            "metadata": {"table": "7"},
        }
    )
    assert isinstance(intent, payrex.PaymentIntentEntity)
    assert intent.status == "awaiting_payment_method"
    assert intent.currency == "PHP"
    assert intent.payment_methods == ["card", "gcash"]
    assert intent.payment_method_options == {"card": {"capture_type": "manual"}}
    assert intent.metadata == {"table": "7"}

    held = checkout.attach(intent.id, "pm_card_visa")
    assert held["status"] == "awaiting_capture"
    assert held["amount_capturable"] == 10000
    assert held["capture_before_at"] == held["updated_at"] + 7 * 24 * 3600

    captured = intents.capture(intent.id, {"amount": 7500})
    assert captured.status == "succeeded"
    assert captured.amount_received == 7500
    assert captured.amount_capturable == 0

    fetched = intents.retrieve(intent.id)
    assert fetched.status == "succeeded"
    assert fetched.latest_payment["status"] == "paid"
    assert fetched.latest_payment["amount_refunded"] == 2500


def test_cancel_is_only_for_intents_awaiting_a_payment_method(checkout: Checkout) -> None:
    intents = checkout.client.payment_intents
    intent = intents.create({"amount": 5000, "currency": "PHP", "payment_methods": ["card"]})
    canceled = intents.cancel(intent.id)
    assert canceled.status == "canceled"

    paid = intents.create({"amount": 5000, "currency": "PHP", "payment_methods": ["card"]})
    checkout.attach(paid.id, "pm_card_visa")
    with pytest.raises(payrex.RequestInvalidException) as refused:
        intents.cancel(paid.id)
    assert refused.value.errors[0].code == "payment_intent_unexpected_state"


def test_wallet_redirect_then_update(checkout: Checkout) -> None:
    intents = checkout.client.payment_intents
    intent = intents.create({"amount": 3000, "currency": "PHP", "payment_methods": ["gcash"]})
    waiting = checkout.attach(intent.id, "pm_gcash")
    assert waiting["status"] == "awaiting_next_action"
    assert waiting["next_action"]["type"] == "redirect"
    updated = intents.update(intent.id, {"description": "GCash order"})
    assert updated.description == "GCash order"


def test_errors_arrive_as_the_sdks_exception_classes(checkout: Checkout) -> None:
    intents = checkout.client.payment_intents
    with pytest.raises(payrex.RequestInvalidException) as small:
        intents.create({"amount": 1999, "currency": "PHP", "payment_methods": ["card"]})
    error = small.value.errors[0]
    assert (error.code, error.parameter) == ("parameter_below_minimum", "amount")
    assert error.detail

    with pytest.raises(payrex.RequestInvalidException) as missing:
        intents.create({"currency": "PHP"})
    assert (missing.value.errors[0].code, missing.value.errors[0].parameter) == (
        "parameter_required",
        "amount",
    )

    with pytest.raises(payrex.RequestInvalidException) as wrong_type:
        intents.create({"amount": 5000, "currency": "PHP", "payment_methods": ["paypal"]})
    assert wrong_type.value.errors[0].parameter == "payment_methods"

    with pytest.raises(payrex.RequestInvalidException) as stripe_word:
        intents.create({"amount": 5000, "currency": "PHP", "payment_method_types": ["card"]})
    assert (stripe_word.value.errors[0].code, stripe_word.value.errors[0].parameter) == (
        "parameter_invalid",
        "payment_method_types",
    )

    intent = intents.create(
        {
            "amount": 5000,
            "currency": "PHP",
            "payment_methods": ["card"],
            "payment_method_options": {"card": {"capture_type": "manual"}},
        }
    )
    checkout.attach(intent.id, "pm_card_visa")
    with pytest.raises(payrex.RequestInvalidException) as capture:
        intents.capture(intent.id, {"amount": 100})
    assert (capture.value.errors[0].code, capture.value.errors[0].parameter) == (
        "parameter_below_minimum",
        "amount",
    )

    with pytest.raises(payrex.ResourceNotFoundException) as not_found:
        intents.retrieve("pi_doesNotExist")
    assert not_found.value.errors[0].code == "resource_not_found"

    stranger = payrex.Client("sk_test_notTheConfiguredKey1")
    stranger.config.api_base_url = checkout.url
    with pytest.raises(payrex.AuthenticationInvalidException) as denied:
        stranger.payment_intents.retrieve(intent.id)
    assert denied.value.errors[0].code == "authentication_invalid"


# -- money after the hold: Payments and Refunds ------------------------------------------------


def _paid(checkout: Checkout, amount: int = 10000, method: str = "pm_card_visa") -> Any:
    """An intent paid at once by ``method``, as the SDK then retrieves it."""
    intents = checkout.client.payment_intents
    intent = intents.create({"amount": amount, "currency": "PHP", "payment_methods": ["card"]})
    checkout.attach(intent.id, method)
    return intents.retrieve(intent.id)


def test_latest_payment_is_a_payment_the_payment_service_retrieves_and_annotates(
    checkout: Checkout,
) -> None:
    intent = _paid(checkout)
    latest = intent.latest_payment
    assert latest["id"].startswith("pay_")

    payment = checkout.client.payments.retrieve(latest["id"])
    assert isinstance(payment, payrex.PaymentEntity)
    assert (payment.id, payment.payment_intent_id) == (latest["id"], intent.id)
    assert (payment.amount, payment.amount_refunded, payment.refunded) == (10000, 0, False)
    assert (payment.status, payment.currency, payment.metadata) == ("paid", "PHP", None)

    noted = checkout.client.payments.update(payment.id, {"metadata": {"order": "A-7"}})
    assert noted.metadata == {"order": "A-7"}
    assert checkout.client.payments.retrieve(payment.id).metadata == {"order": "A-7"}
    assert checkout.client.payment_intents.retrieve(intent.id).metadata is None


def test_partial_refunds_add_up_on_the_payment_and_never_past_what_was_paid(
    checkout: Checkout,
) -> None:
    payment_id = _paid(checkout).latest_payment["id"]
    refunds = checkout.client.refunds
    first = refunds.create(
        {
            "payment_id": payment_id,
            "amount": 3000,
            "currency": "PHP",
            "reason": "product_was_damaged",
            "remarks": "Cracked screen.",
            "metadata": {"ticket": "SUP-1"},
        }
    )
    assert isinstance(first, payrex.RefundEntity)
    assert first.id.startswith("re_")
    assert (first.amount, first.status, first.currency) == (3000, "succeeded", "PHP")
    assert (first.reason, first.remarks, first.payment_id) == (
        "product_was_damaged",
        "Cracked screen.",
        payment_id,
    )
    assert first.metadata == {"ticket": "SUP-1"}
    refunds.create(
        {"payment_id": payment_id, "amount": 5000, "currency": "PHP", "reason": "others"}
    )

    payment = checkout.client.payments.retrieve(payment_id)
    assert (payment.amount_refunded, payment.refunded) == (8000, False)

    with pytest.raises(payrex.RequestInvalidException) as over:
        refunds.create(
            {"payment_id": payment_id, "amount": 2001, "currency": "PHP", "reason": "others"}
        )
    assert (over.value.errors[0].code, over.value.errors[0].parameter) == (
        "parameter_above_maximum",
        "amount",
    )
    assert checkout.client.payments.retrieve(payment_id).amount_refunded == 8000

    refunds.create(
        {"payment_id": payment_id, "amount": 2000, "currency": "PHP", "reason": "fraudulent"}
    )
    payment = checkout.client.payments.retrieve(payment_id)
    assert (payment.amount_refunded, payment.refunded) == (10000, True)
    assert checkout.client.payment_intents.retrieve(payment.payment_intent_id).status == (
        "succeeded"
    )


def test_the_refund_service_updates_a_refunds_metadata_only(checkout: Checkout) -> None:
    payment_id = _paid(checkout).latest_payment["id"]
    refund = checkout.client.refunds.create(
        {"payment_id": payment_id, "amount": 2500, "currency": "PHP", "reason": "others"}
    )
    updated = checkout.client.refunds.update(refund.id, {"metadata": {"agent": "ana"}})
    assert updated.metadata == {"agent": "ana"}
    assert (updated.id, updated.amount, updated.status) == (refund.id, 2500, "succeeded")

    with pytest.raises(payrex.RequestInvalidException) as amount:
        checkout.client.refunds.update(refund.id, {"amount": 100})
    assert (amount.value.errors[0].code, amount.value.errors[0].parameter) == (
        "parameter_invalid",
        "amount",
    )


def test_a_refund_the_card_refuses_fails_and_sends_nothing_back(checkout: Checkout) -> None:
    payment_id = _paid(checkout, method="pm_card_refundFail").latest_payment["id"]
    refund = checkout.client.refunds.create(
        {"payment_id": payment_id, "amount": 4000, "currency": "PHP", "reason": "others"}
    )
    assert refund.status == "failed"
    payment = checkout.client.payments.retrieve(payment_id)
    assert (payment.amount_refunded, payment.refunded, payment.net_amount) == (0, False, 10000)


def test_refund_requests_are_refused_as_payrex_refuses_them(checkout: Checkout) -> None:
    payment_id = _paid(checkout).latest_payment["id"]
    refunds = checkout.client.refunds
    complete = {"payment_id": payment_id, "amount": 2000, "currency": "PHP", "reason": "others"}
    for missing in ("payment_id", "amount", "currency", "reason"):
        with pytest.raises(payrex.RequestInvalidException) as refused:
            refunds.create({k: v for k, v in complete.items() if k != missing})
        assert (refused.value.errors[0].code, refused.value.errors[0].parameter) == (
            "parameter_required",
            missing,
        )
    for param, value in (("reason", "duplicate"), ("currency", "USD"), ("amount", 0)):
        with pytest.raises(payrex.RequestInvalidException) as invalid:
            refunds.create({**complete, param: value})
        assert invalid.value.errors[0].parameter == param
    with pytest.raises(payrex.RequestInvalidException) as stripe_word:
        refunds.create({**complete, "payment_intent": "pi_1"})
    assert stripe_word.value.errors[0].parameter == "payment_intent"
    with pytest.raises(payrex.ResourceNotFoundException) as unknown:
        refunds.create({**complete, "payment_id": "pay_doesNotExist"})
    assert (unknown.value.errors[0].code, unknown.value.errors[0].parameter) == (
        "resource_not_found",
        "payment_id",
    )
    assert checkout.client.payments.retrieve(payment_id).amount_refunded == 0

    with pytest.raises(payrex.ResourceNotFoundException):
        checkout.client.payments.retrieve("pay_doesNotExist")


def test_a_failed_attempt_is_a_failed_payment_that_cannot_be_refunded(checkout: Checkout) -> None:
    intents = checkout.client.payment_intents
    intent = intents.create({"amount": 5000, "currency": "PHP", "payment_methods": ["card"]})
    declined = checkout.attach(intent.id, "pm_card_visa_chargeDeclined")
    payment_id = declined["latest_payment"]["id"]
    assert checkout.client.payments.retrieve(payment_id).status == "failed"
    checkout.attach(intent.id, "pm_card_visa")
    with pytest.raises(payrex.RequestInvalidException) as refused:
        checkout.client.refunds.create(
            {"payment_id": payment_id, "amount": 2000, "currency": "PHP", "reason": "others"}
        )
    assert refused.value.errors[0].parameter == "payment_id"


def test_payrex_captures_a_hold_once_and_has_no_incremental_authorization(
    checkout: Checkout,
) -> None:
    intents = checkout.client.payment_intents
    with pytest.raises(payrex.RequestInvalidException) as requested:
        intents.create(
            {
                "amount": 5000,
                "currency": "PHP",
                "payment_methods": ["card"],
                "payment_method_options": {
                    "card": {"capture_type": "manual", "request_multicapture": "if_available"}
                },
            }
        )
    assert requested.value.errors[0].parameter == (
        "payment_method_options[card][request_multicapture]"
    )
    intent = intents.create(
        {
            "amount": 5000,
            "currency": "PHP",
            "payment_methods": ["card"],
            "payment_method_options": {"card": {"capture_type": "manual"}},
        }
    )
    checkout.attach(intent.id, "pm_card_visa")
    with pytest.raises(payrex.RequestInvalidException) as partial:
        intents.capture(intent.id, {"amount": 2000, "final_capture": "false"})
    assert (partial.value.errors[0].code, partial.value.errors[0].parameter) == (
        "parameter_invalid",
        "final_capture",
    )
    increment = requests.post(
        f"{checkout.url}/payment_intents/{intent.id}/increment_authorization",
        data={"amount": "6000"},
        auth=(SEED_KEY, ""),
        timeout=10,
    )
    assert increment.status_code == 404
    assert increment.json()["errors"][0]["code"] == "resource_not_found"
    held = intents.retrieve(intent.id)
    assert (held.status, held.amount_capturable) == ("awaiting_capture", 5000)


def test_refunds_reach_the_events_feed_as_payrex_names_them(checkout: Checkout) -> None:
    payment_id = _paid(checkout).latest_payment["id"]
    refund = checkout.client.refunds.create(
        {"payment_id": payment_id, "amount": 2500, "currency": "PHP", "reason": "others"}
    )
    checkout.client.refunds.update(refund.id, {"metadata": {"agent": "ana"}})
    feed = requests.get(f"{checkout.url}/events", auth=(SEED_KEY, ""), timeout=10).json()
    money = [event for event in feed["data"] if not event["type"].startswith("payment_intent.")]
    assert [event["type"] for event in money] == [
        "refund.created",
        "payment.refunded",
        "refund.updated",
    ]
    created, refunded, updated = money
    assert (created["data"]["resource"], created["data"]["id"]) == ("refund", refund.id)
    assert refunded["data"]["resource"] == "payment"
    assert (refunded["data"]["id"], refunded["data"]["amount_refunded"]) == (payment_id, 2500)
    assert updated["data"]["metadata"] == {"agent": "ana"}
    assert updated["previous_attributes"] == {"metadata": None}
