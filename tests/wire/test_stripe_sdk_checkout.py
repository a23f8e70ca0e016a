"""stripe-python, as a new user writes it, runs a whole checkout against the local server: the
everyday parameters, ``expand``, search and events with auto-pagination, payment methods, and the
retry Stripe asks for when a request loses a race."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from payment_intent import InMemoryStore, ManualClock, PaymentIntents
from payment_intent.adapters.simulated import SimulatedProcessor
from payment_intent.dialects import Api
from payment_intent.domain.outcomes import Attempt, Outcome
from tests.wire.conftest import SEED_KEY, SEED_TIME, make_api, serving

stripe = pytest.importorskip("stripe")


@pytest.fixture
def url(store: InMemoryStore, clock: ManualClock) -> Iterator[str]:
    with serving(lambda origin: make_api("casapay", store, clock, origin=origin)) as base:
        yield base


@pytest.fixture
def client(url: str) -> Any:
    return stripe.StripeClient(SEED_KEY, base_addresses={"api": url}, max_network_retries=0)


SHIPPING = {
    "name": "Ada Lovelace",
    "address": {"line1": "12 St James's Square", "city": "London", "country": "GB"},
}


def test_a_full_checkout_with_expand_search_events_and_auto_pagination(
    client: Any, clock: ManualClock
) -> None:
    intents = client.v1.payment_intents
    made = []
    for index in range(5):
        clock.advance(60)
        made.append(
            intents.create(
                params={
                    "amount": 1000 + index,
                    "currency": "eur",
                    "customer": "cus_checkout",
                    "metadata": {"order": f"A-{index}"},
                    "receipt_email": "tenant@example.com",
                    "shipping": SHIPPING,
                    "setup_future_usage": "on_session",
                }
            )
        )
    first = made[0]
    assert first.shipping.name == "Ada Lovelace"
    assert first.receipt_email == "tenant@example.com"
    assert first.review is None
    assert first.transfer_data is None
    # The SDK's version (2024-04-10 on) captures asynchronously by default.
    assert first.capture_method == "automatic_async"

    updated = intents.update(first.id, params={"customer": "cus_other", "metadata": ""})
    assert (updated.customer, updated.metadata.to_dict()) == ("cus_other", {})

    paid = intents.confirm(
        first.id,
        params={
            "payment_method": "pm_card_visa",
            "return_url": "https://shop.test/done",
            "expand": ["latest_charge", "payment_method"],
        },
    )
    assert paid.status == "succeeded"
    assert isinstance(paid.latest_charge, stripe.Charge)
    assert paid.latest_charge.payment_method_details.card.last4 == "4242"
    assert paid.latest_charge.refunds.data == []
    assert isinstance(paid.payment_method, stripe.PaymentMethod)
    assert paid.payment_method.card.brand == "visa"
    fetched = intents.retrieve(paid.id, params={"expand": ["latest_charge"]})
    assert fetched.latest_charge.id == paid.latest_charge.id

    listed = [i.id for i in intents.list(params={"limit": 2}).auto_paging_iter()]
    assert listed == [i.id for i in reversed(made)]

    found = intents.search(params={"query": 'customer:"cus_checkout" AND amount>1001', "limit": 1})
    assert [i.id for i in found.auto_paging_iter()] == [i.id for i in reversed(made[2:])]

    events = client.v1.events.list(params={"type": "payment_intent.succeeded"})
    assert [e.data.object.id for e in events.data] == [paid.id]
    every = list(client.v1.events.list(params={"limit": 2}).auto_paging_iter())
    assert every[0].type == "payment_intent.succeeded"
    assert len(every) == len(made) + 1  # five created, one succeeded (an update records none)
    assert client.v1.events.retrieve(every[0].id).id == every[0].id

    method = client.v1.payment_methods.retrieve("pm_card_mastercard")
    assert (method.card.brand, method.card.last4, method.type) == ("mastercard", "4444", "card")


def test_a_decline_carries_the_failed_charge_and_the_full_method(client: Any) -> None:
    intents = client.v1.payment_intents
    intent = intents.create(params={"amount": 5000, "currency": "eur"})
    with pytest.raises(stripe.CardError) as raised:
        intents.confirm(intent.id, params={"payment_method": "pm_card_visa_chargeDeclined"})
    error = raised.value.error
    assert error.charge is not None
    assert error.doc_url.endswith("/card-declined")
    failed = error.payment_intent.last_payment_error
    assert failed.payment_method.billing_details.name is None
    assert failed.payment_method.card.last4 == "0002"
    assert failed.charge == error.charge


def test_the_module_level_api_reads_null_properties_and_lists_events_by_type(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stripe, "api_key", SEED_KEY)
    monkeypatch.setattr(stripe, "api_base", url)
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    created = stripe.PaymentIntent.create(
        amount=2000, currency="eur", payment_method="pm_card_visa", confirm=True
    )
    pi = stripe.PaymentIntent.retrieve(created.id, expand=["latest_charge"])
    assert pi.shipping is None
    assert pi.latest_charge.status == "succeeded"
    succeeded = stripe.Event.list(type="payment_intent.succeeded")
    assert [e.data.object.id for e in succeeded.data] == [created.id]


class _HeldProcessor(SimulatedProcessor):
    """The simulated processor, but an authorization waits until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def authorize(self, attempt: Attempt) -> Outcome:
        self.entered.set()
        self.release.wait(10)
        return super().authorize(attempt)


@pytest.fixture
def held() -> Iterator[tuple[str, _HeldProcessor, list[int]]]:
    processor = _HeldProcessor()
    service = PaymentIntents(
        InMemoryStore(), ManualClock(SEED_TIME), processor, "casapay", claim_wait=0.05
    )
    api = Api("casapay", [SEED_KEY], test=service)
    statuses: list[int] = []
    answer = api.handle

    def recorded(*args: Any, **kwargs: Any) -> Any:
        response = answer(*args, **kwargs)
        statuses.append(response.status)
        return response

    api.handle = recorded  # type: ignore[method-assign]
    with serving(api) as base:
        yield base, processor, statuses
    processor.release.set()


def test_a_request_that_loses_a_race_is_answered_429_and_the_sdk_retries_it(
    held: tuple[str, _HeldProcessor, list[int]],
) -> None:
    url, processor, statuses = held
    patient = stripe.StripeClient(SEED_KEY, base_addresses={"api": url}, max_network_retries=3)
    intent = patient.v1.payment_intents.create(params={"amount": 5000, "currency": "eur"})
    confirming = threading.Thread(
        target=patient.v1.payment_intents.confirm,
        args=(intent.id,),
        kwargs={"params": {"payment_method": "pm_card_visa"}},
    )
    confirming.start()
    assert processor.entered.wait(10)
    threading.Timer(0.3, processor.release.set).start()
    # The confirm holds the intent: the update waits, is answered lock_timeout, and is retried.
    updated = patient.v1.payment_intents.update(intent.id, params={"metadata": {"k": "v"}})
    confirming.join(10)
    assert updated.metadata.to_dict() == {"k": "v"}
    assert 429 in statuses
    assert statuses[-1] == 200


def test_a_key_still_in_flight_is_a_409_that_says_retry_and_acts_once(
    held: tuple[str, _HeldProcessor, list[int]],
) -> None:
    import requests

    url, processor, _ = held
    headers = {"Authorization": f"Bearer {SEED_KEY}", "Idempotency-Key": "order-7"}
    intent = requests.post(
        f"{url}/v1/payment_intents", data={"amount": 5000, "currency": "eur"}, headers=headers
    ).json()
    path = f"{url}/v1/payment_intents/{intent['id']}/confirm"
    first: dict[str, Any] = {}
    confirming = threading.Thread(
        target=lambda: first.update(
            response=requests.post(
                path,
                data={"payment_method": "pm_card_visa"},
                headers={**headers, "Idempotency-Key": "confirm-7"},
                timeout=20,
            )
        )
    )
    confirming.start()
    assert processor.entered.wait(10)
    second = requests.post(
        path,
        data={"payment_method": "pm_card_visa"},
        headers={**headers, "Idempotency-Key": "confirm-7"},
        timeout=20,
    )
    processor.release.set()
    confirming.join(10)
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "idempotency_key_in_use"
    assert second.headers["Stripe-Should-Retry"] == "true"
    assert first["response"].status_code == 200
    assert first["response"].json()["amount_received"] == 5000


def test_an_sdk_pinned_to_an_older_version_reads_the_charges_list(url: str) -> None:
    older = stripe.StripeClient(
        SEED_KEY, base_addresses={"api": url}, max_network_retries=0, stripe_version="2020-08-27"
    )
    intent = older.v1.payment_intents.create(
        params={
            "amount": 5000,
            "currency": "eur",
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )
    assert intent.capture_method == "automatic"
    (charge,) = intent.charges.data
    assert isinstance(charge, stripe.Charge)
    assert (charge.billing_details.name, charge.disputed, charge.refunds.data) == (None, False, [])
    assert charge.payment_method_details.card.exp_year > 2000
    expanded = older.v1.payment_intents.retrieve(
        intent.id, params={"expand": ["charges.data.payment_intent"]}
    )
    assert expanded.charges.data[0].payment_intent.id == intent.id
