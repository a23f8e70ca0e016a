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
