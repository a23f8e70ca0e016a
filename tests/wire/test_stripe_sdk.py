"""The official ``stripe`` package, pointed at the local CasaPay server, runs a real checkout."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from payment_intent import InMemoryStore, ManualClock
from tests.wire.conftest import SEED_KEY, make_api, serving

stripe = pytest.importorskip("stripe")


@pytest.fixture
def url(store: InMemoryStore, clock: ManualClock) -> Iterator[str]:
    """The local CasaPay server; its redirects lead back to its own test-mode page."""
    with serving(lambda origin: make_api("casapay", store, clock, origin=origin)) as base:
        yield base


@pytest.fixture
def client(url: str) -> stripe.StripeClient:
    return stripe.StripeClient(SEED_KEY, base_addresses={"api": url}, max_network_retries=0)


def _helper(client: stripe.StripeClient, path: str, params: dict[str, str]) -> stripe.StripeObject:
    """The test-mode helpers, through the SDK's own raw request method."""
    return client.deserialize(client.raw_request("post", path, **params), api_mode="V1")


def test_manual_capture_checkout_with_partial_capture(client: stripe.StripeClient) -> None:
    intents = client.v1.payment_intents
    intent = intents.create(
        params={
            "amount": 120000,
            "currency": "eur",
            "customer": "cus_123456789",
            "capture_method": "manual",
            "payment_method_types": ["card", "open_banking"],
            "metadata": {"property_id": "prop_456", "period": "2025-02"},
            "description": "Rent payment — February 2025",
        }
    )
    assert isinstance(intent, stripe.PaymentIntent)
    assert intent.status == "requires_payment_method"
    assert intent.metadata.to_dict() == {"property_id": "prop_456", "period": "2025-02"}
    assert intent.payment_method_types == ["card", "open_banking"]

    intent = intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})
    assert intent.status == "requires_capture"
    assert intent.amount_capturable == 120000

    # The SDK's own API version has no charges list: the charge is expanded from latest_charge.
    intent = intents.capture(
        intent.id, params={"amount_to_capture": 100000, "expand": ["latest_charge"]}
    )
    assert intent.status == "succeeded"
    assert intent.amount_received == 100000
    assert intent.amount_capturable == 0
    charge = intent.latest_charge
    assert isinstance(charge, stripe.Charge)
    assert (charge.amount_captured, charge.amount_refunded) == (100000, 20000)

    fetched = intents.retrieve(intent.id, params={"expand": ["latest_charge"]})
    assert fetched.to_dict() == intent.to_dict()
    page = intents.list(params={"customer": "cus_123456789", "limit": 10})
    assert [i.id for i in page.data] == [intent.id]


def test_decline_arrives_as_card_error_carrying_the_intent(client: stripe.StripeClient) -> None:
    intents = client.v1.payment_intents
    intent = intents.create(params={"amount": 5000, "currency": "eur"})
    with pytest.raises(stripe.CardError) as raised:
        intents.confirm(intent.id, params={"payment_method": "pm_card_visa_chargeDeclined"})
    error = raised.value
    assert error.http_status == 402
    assert error.code == "card_declined"
    assert error.param == "payment_method"
    assert error.error is not None
    assert error.error.decline_code == "generic_decline"
    assert error.error.payment_intent is not None
    assert error.error.payment_intent.status == "requires_payment_method"
    assert error.error.payment_intent.last_payment_error.code == "card_declined"
    # The decline is recorded: the intent can be paid with another card.
    declined_charge = error.error.payment_intent.latest_charge
    assert error.error.charge == declined_charge
    again = intents.confirm(intent.id, params={"payment_method": "pm_card_mastercard"})
    assert again.status == "succeeded"
    assert again.latest_charge not in (None, declined_charge)


def test_three_d_secure_redirect_then_completion(client: stripe.StripeClient, url: str) -> None:
    intents = client.v1.payment_intents
    intent = intents.create(
        params={
            "amount": 2500,
            "currency": "gbp",
            "payment_method": "pm_card_threeDSecure2Required",
            "return_url": "https://shop.test/complete",
            "confirm": True,
        }
    )
    assert intent.status == "requires_action"
    assert intent.next_action.type == "redirect_to_url"
    assert intent.next_action.redirect_to_url.url.startswith(f"{url}/v1/test_helpers/redirect/")
    assert intent.next_action.redirect_to_url.return_url == "https://shop.test/complete"

    # The customer's browser follows the redirect to the server's test-mode page and completes it.
    redirect = intent.next_action.redirect_to_url.url
    page = requests.get(redirect, timeout=10)
    assert page.status_code == 200
    assert "text/html" in page.headers["Content-Type"]
    back = requests.post(redirect, data={"succeed": "true"}, allow_redirects=False, timeout=10)
    assert back.status_code == 303
    returned = urlsplit(back.headers["Location"])
    assert returned.netloc == "shop.test"
    query = dict(parse_qsl(returned.query))
    assert query["payment_intent"] == intent.id
    assert query["redirect_status"] == "succeeded"
    assert query["payment_intent_client_secret"] == intent.client_secret
    assert intents.retrieve(intent.id).status == "succeeded"
    # The page served its one attempt; it is gone now.
    assert requests.get(redirect, timeout=10).status_code == 401


def test_three_d_secure_through_the_test_helper(client: stripe.StripeClient) -> None:
    intents = client.v1.payment_intents
    intent = intents.create(
        params={
            "amount": 2500,
            "currency": "gbp",
            "capture_method": "manual",
            "payment_method": "pm_card_threeDSecureRequiredChargeDeclined",
            "return_url": "https://shop.test/complete",
            "confirm": True,
        }
    )
    assert intent.status == "requires_action"
    after = _helper(
        client, f"/v1/test_helpers/payment_intents/{intent.id}/complete_action", {"succeed": "true"}
    )
    assert after.status == "requires_payment_method"
    assert after.last_payment_error.decline_code == "generic_decline"


def test_cancel_and_typed_request_errors(client: stripe.StripeClient) -> None:
    intents = client.v1.payment_intents
    intent = intents.create(params={"amount": 4200, "currency": "usd"})
    canceled = intents.cancel(intent.id, params={"cancellation_reason": "abandoned"})
    assert canceled.status == "canceled"
    assert canceled.cancellation_reason == "abandoned"

    with pytest.raises(stripe.InvalidRequestError) as state:
        intents.capture(intent.id)
    assert state.value.code == "payment_intent_unexpected_state"
    assert state.value.http_status == 400

    with pytest.raises(stripe.InvalidRequestError) as missing:
        intents.retrieve("pi_doesNotExist")
    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")

    with pytest.raises(stripe.InvalidRequestError) as small:
        intents.create(params={"amount": 10, "currency": "usd"})
    assert (small.value.code, small.value.param) == ("amount_too_small", "amount")


def test_idempotency_replays_and_refuses_a_reused_key(client: stripe.StripeClient) -> None:
    intents = client.v1.payment_intents
    first = intents.create(
        params={"amount": 1000, "currency": "eur"}, options={"idempotency_key": "order-42"}
    )
    replay = intents.create(
        params={"amount": 1000, "currency": "eur"}, options={"idempotency_key": "order-42"}
    )
    assert replay.id == first.id
    with pytest.raises(stripe.IdempotencyError) as reused:
        intents.create(
            params={"amount": 2000, "currency": "eur"}, options={"idempotency_key": "order-42"}
        )
    assert reused.value.http_status == 400


def test_wrong_key_is_an_authentication_error(store: InMemoryStore, clock: ManualClock) -> None:
    with serving(make_api("casapay", store, clock)) as url:
        wrong = stripe.StripeClient(
            "sk_test_notTheConfiguredKey1", base_addresses={"api": url}, max_network_retries=0
        )
        with pytest.raises(stripe.AuthenticationError) as raised:
            wrong.v1.payment_intents.list()
        assert raised.value.http_status == 401
    assert store.snapshot() == InMemoryStore().snapshot()
