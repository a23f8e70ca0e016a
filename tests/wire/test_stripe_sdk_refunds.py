"""Money after the hold through the official ``stripe`` package, unmodified, against the local
CasaPay server: refunds, multicapture, overcapture, incremental and extended authorization."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from payment_intent import InMemoryStore, ManualClock
from tests.wire.conftest import SEED_KEY, SEED_TIME, bearer, make_api, serving
from tests.wire.stripe_schema import OLDER, errors_of, validator

stripe = pytest.importorskip("stripe")

_STORE = InMemoryStore()
_CLOCK = ManualClock(SEED_TIME)
#: Every feature requested, as a checkout that wants them all would.
ALL_FEATURES = {
    "card": {
        "request_multicapture": "if_available",
        "request_overcapture": "if_available",
        "request_incremental_authorization": "if_available",
        "request_extended_authorization": "if_available",
    }
}


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    """One server for the module: each test makes intents of its own."""
    with serving(make_api("casapay", _STORE, _CLOCK)) as base:
        yield base


@pytest.fixture
def client(url: str) -> Any:
    return stripe.StripeClient(SEED_KEY, base_addresses={"api": url}, max_network_retries=0)


@pytest.fixture
def global_stripe(url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The module-level ``stripe.Refund`` style, pointed at the server for one test."""
    monkeypatch.setattr(stripe, "api_key", SEED_KEY)
    monkeypatch.setattr(stripe, "api_base", url)
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    return stripe


def _paid(client: Any, amount: int = 5000, method: str = "pm_card_visa") -> Any:
    return client.v1.payment_intents.create(
        params={"amount": amount, "currency": "eur", "confirm": True, "payment_method": method}
    )


def _held(client: Any, amount: int = 5000, method: str = "pm_card_visa") -> Any:
    return client.v1.payment_intents.create(
        params={
            "amount": amount,
            "currency": "eur",
            "confirm": True,
            "payment_method": method,
            "capture_method": "manual",
            "payment_method_options": ALL_FEATURES,
        }
    )


def _card(client: Any, intent_id: str) -> Any:
    intent = client.v1.payment_intents.retrieve(intent_id, params={"expand": ["latest_charge"]})
    return intent.latest_charge.payment_method_details.card


def _helper(client: Any, path: str, params: dict[str, str] | None = None) -> Any:
    return client.deserialize(client.raw_request("post", path, **(params or {})), api_mode="V1")


# -- refunds -----------------------------------------------------------------------------------


def test_partial_refunds_add_up_and_a_refund_past_what_is_left_is_refused(
    global_stripe: Any, client: Any
) -> None:
    intent = _paid(client)
    first = global_stripe.Refund.create(payment_intent=intent.id, amount=1500)
    assert isinstance(first, stripe.Refund)
    assert (first.object, first.amount, first.status, first.currency) == (
        "refund",
        1500,
        "succeeded",
        "eur",
    )
    assert first.payment_intent == intent.id
    assert first.charge == intent.latest_charge
    global_stripe.Refund.create(charge=intent.latest_charge, amount=2000, reason="duplicate")
    with pytest.raises(stripe.InvalidRequestError) as refused:
        global_stripe.Refund.create(payment_intent=intent.id, amount=2000)
    assert refused.value.http_status == 400
    assert refused.value.code == "amount_too_large"
    assert refused.value.param == "amount"
    intent = client.v1.payment_intents.retrieve(intent.id, params={"expand": ["latest_charge"]})
    assert intent.status == "succeeded"
    assert (intent.latest_charge.amount_refunded, intent.latest_charge.refunded) == (3500, False)
    rest = global_stripe.Refund.create(payment_intent=intent.id)
    assert rest.amount == 1500
    again = client.v1.payment_intents.retrieve(intent.id, params={"expand": ["latest_charge"]})
    assert again.latest_charge.refunded is True


def test_refunds_of_nothing_collected_or_of_unknown_charges_are_refused_naming_the_parameter(
    global_stripe: Any, client: Any
) -> None:
    held = _held(client)
    with pytest.raises(stripe.InvalidRequestError) as uncaptured:
        global_stripe.Refund.create(payment_intent=held.id)
    assert uncaptured.value.param == "payment_intent"
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        global_stripe.Refund.create(charge="ch_nothing_1")
    assert (unknown.value.http_status, unknown.value.code, unknown.value.param) == (
        404,
        "resource_missing",
        "charge",
    )
    with pytest.raises(stripe.InvalidRequestError) as zero:
        global_stripe.Refund.create(payment_intent=_paid(client).id, amount=0)
    assert zero.value.param == "amount"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        global_stripe.Refund.retrieve("re_nothing")
    assert (missing.value.http_status, missing.value.param) == (404, "id")
    assert global_stripe.Refund.list(payment_intent=held.id).data == []


def test_refund_list_pages_newest_first_through_auto_pagination(client: Any) -> None:
    intent = _paid(client, amount=10000)
    made = [
        client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1000}).id
        for _ in range(5)
    ]
    page = client.v1.refunds.list(params={"payment_intent": intent.id, "limit": 2})
    assert page.url == "/v1/refunds"
    assert page.has_more is True
    assert [r.id for r in page.auto_paging_iter()] == made[::-1]
    by_charge = client.v1.refunds.list(params={"charge": intent.latest_charge, "limit": 10})
    assert len(by_charge.data) == 5


def test_a_refunds_metadata_is_modified_and_a_pending_bank_refund_canceled(
    global_stripe: Any, client: Any
) -> None:
    refund = global_stripe.Refund.create(payment_intent=_paid(client).id, metadata={"a": "1"})
    changed = global_stripe.Refund.modify(refund.id, metadata={"a": "2", "b": "3"})
    assert changed.metadata.to_dict() == {"a": "2", "b": "3"}
    bank = client.v1.payment_intents.create(
        params={
            "amount": 4000,
            "currency": "eur",
            "payment_method_types": ["open_banking"],
            "payment_method": "pm_open_banking",
            "confirm": True,
        }
    )
    _helper(client, f"/v1/test_helpers/payment_intents/{bank.id}/settle")
    pending = global_stripe.Refund.create(payment_intent=bank.id, amount=1000)
    assert pending.status == "pending"
    canceled = global_stripe.Refund.cancel(pending.id)
    assert canceled.status == "canceled"
    with pytest.raises(stripe.InvalidRequestError):
        global_stripe.Refund.cancel(pending.id)
    settled = _helper(
        client,
        f"/v1/test_helpers/refunds/{global_stripe.Refund.create(payment_intent=bank.id).id}/settle",
    )
    assert (settled.status, settled.amount) == ("succeeded", 4000)


def test_a_refund_the_bank_refuses_is_failed_with_its_reason(client: Any) -> None:
    intent = _paid(client, method="pm_card_refundFail")
    failed = client.v1.refunds.create(params={"payment_intent": intent.id})
    assert (failed.status, failed.failure_reason) == ("failed", "declined")
    types = [e.type for e in client.v1.events.list(params={"limit": 3}).data]
    assert types[:2] == ["refund.failed", "refund.created"]


def test_refund_events_carry_the_refund_and_charge_refunded_carries_the_charge(
    client: Any,
) -> None:
    intent = _paid(client)
    refund = client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 700})
    created, refunded = (
        client.v1.events.list(params={"type": kind, "limit": 1}).data[0]
        for kind in ("refund.created", "charge.refunded")
    )
    assert created.data.object.id == refund.id
    assert isinstance(created.data.object, stripe.Refund)
    assert isinstance(refunded.data.object, stripe.Charge)
    assert refunded.data.object.amount_refunded == 700
    assert refunded.data.previous_attributes.amount_refunded == 0
    assert client.v1.events.retrieve(created.id).data.object.amount == 700


def test_rendered_refunds_and_charges_conform_to_stripes_2020_schema(client: Any) -> None:
    intent = _paid(client)
    client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 900})
    api = make_api("casapay", _STORE, _CLOCK)
    answer = api.handle("GET", f"/v1/payment_intents/{intent.id}", "", bearer())
    charge = answer.body["charges"]["data"][0]
    assert errors_of(validator(OLDER, "charge"), charge) == []
    assert charge["refunds"]["total_count"] == 1
    assert charge["refunds"]["data"][0]["object"] == "refund"
    newer = api.handle(
        "GET",
        f"/v1/payment_intents/{intent.id}",
        "expand[]=latest_charge",
        {**bearer(), "Stripe-Version": "2026-07-29.dahlia"},
    )
    assert errors_of(validator(OLDER, "charge"), newer.body["latest_charge"]) == []
    assert newer.body["latest_charge"]["refunds"]["total_count"] == 1


# -- flexible acquiring ------------------------------------------------------------------------


def test_multicapture_collects_in_parts_then_a_final_capture_releases_the_rest(
    client: Any,
) -> None:
    intent = _held(client, amount=10000)
    assert _card(client, intent.id).multicapture.status == "available"
    intents = client.v1.payment_intents
    part = intents.capture(intent.id, params={"amount_to_capture": 3000, "final_capture": False})
    assert (part.status, part.amount_received, part.amount_capturable) == (
        "requires_capture",
        3000,
        7000,
    )
    refund = client.v1.refunds.create(params={"payment_intent": intent.id})
    assert refund.amount == 3000  # only what was collected so far
    done = intents.capture(intent.id, params={"amount_to_capture": 2000})
    assert (done.status, done.amount_received, done.amount_capturable) == ("succeeded", 5000, 0)
    with pytest.raises(stripe.InvalidRequestError) as after:
        intents.capture(intent.id, params={"amount_to_capture": 100})
    assert after.value.code == "payment_intent_unexpected_state"


def test_overcapture_takes_up_to_the_granted_maximum_and_no_more(client: Any) -> None:
    intent = _held(client, amount=10000)
    overcapture = _card(client, intent.id).overcapture
    assert overcapture.status == "available"
    ceiling = overcapture.maximum_amount_capturable
    assert ceiling > 10000
    with pytest.raises(stripe.InvalidRequestError) as above:
        client.v1.payment_intents.capture(intent.id, params={"amount_to_capture": ceiling + 1})
    assert (above.value.code, above.value.param) == ("amount_too_large", "amount_to_capture")
    taken = client.v1.payment_intents.capture(intent.id, params={"amount_to_capture": ceiling})
    assert (taken.status, taken.amount_received) == ("succeeded", ceiling)


def test_incremental_authorization_granted_declined_and_not_granted(client: Any) -> None:
    intents = client.v1.payment_intents
    granted = _held(client, amount=5000)
    assert _card(client, granted.id).incremental_authorization.status == "available"
    raised = intents.increment_authorization(granted.id, params={"amount": 8000})
    assert (raised.amount, raised.amount_capturable, raised.status) == (
        8000,
        8000,
        "requires_capture",
    )
    assert raised.capture_before_at == granted.capture_before_at

    declined = _held(client, amount=5000, method="pm_card_incrementDeclined")
    with pytest.raises(stripe.CardError):
        intents.increment_authorization(declined.id, params={"amount": 8000})
    assert intents.retrieve(declined.id).amount_capturable == 5000

    debit = _held(client, amount=5000, method="pm_card_visa_debit")
    assert _card(client, debit.id).incremental_authorization.status == "unavailable"
    with pytest.raises(stripe.InvalidRequestError) as refused:
        intents.increment_authorization(debit.id, params={"amount": 8000})
    assert refused.value.code == "payment_intent_unexpected_state"


def test_extended_authorization_holds_for_thirty_days(client: Any) -> None:
    extended = _held(client)
    card = _card(client, extended.id)
    assert card.extended_authorization.status == "enabled"
    assert card.capture_before - _CLOCK.now() == 30 * 24 * 3600
    debit = _card(client, _held(client, method="pm_card_visa_debit").id)
    assert debit.extended_authorization.status == "disabled"
    assert debit.capture_before - _CLOCK.now() == 7 * 24 * 3600
