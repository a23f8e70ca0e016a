"""Any invalid request is refused with the error its strategy names, and stores nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payment_intent import InMemoryStore, PaymentIntent, PaymentIntents
from payment_intent.errors import InvalidRequestError
from payment_intent.testing.strategies import (
    InvalidParams,
    invalid_cancel_params,
    invalid_capture_params,
    invalid_confirm_params,
    invalid_create_params,
    invalid_increment_params,
    invalid_intent_ids,
    invalid_list_params,
    invalid_refund_params,
    invalid_update_params,
)

Factory = Callable[..., PaymentIntents]

HOLD = 12_345  # PayRex's capture minimum is 2,000: a hold larger than that leaves room for defects


def _seed(service: PaymentIntents, operation: str) -> PaymentIntent:
    """An intent in the status the operation's invalid strategy assumes, among others stored."""
    profile = service.profile.name
    currency = "php" if profile == "payrex" else "eur"
    service.create(amount=HOLD, currency=currency, metadata={"order": "o-1"}, idempotency_key="k1")
    if operation == "refund":  # a payment collected in full, refundable in full
        return service.create(
            amount=HOLD, currency=currency, payment_method="pm_card_visa", confirm=True
        )
    if operation == "increment_authorization":  # a CasaPay hold granted increments
        increments = {"card": {"request_incremental_authorization": "if_available"}}
        return service.create(
            amount=HOLD,
            currency=currency,
            capture_method="manual",
            payment_method="pm_card_visa",
            payment_method_options=increments,
            confirm=True,
        )
    if operation != "capture":
        return service.create(amount=HOLD, currency=currency)
    manual: dict[str, Any] = (
        {"payment_method_options": {"card": {"capture_type": "manual"}}}
        if profile == "payrex"
        else {"capture_method": "manual"}
    )
    held = service.create(
        amount=HOLD, currency=currency, payment_method="pm_card_visa", confirm=True, **manual
    )
    assert held.amount_capturable == HOLD
    return held


def _strategy(operation: str, profile: str) -> st.SearchStrategy[InvalidParams]:
    by_operation: dict[str, st.SearchStrategy[InvalidParams]] = {
        "create": invalid_create_params(profile),
        "update": invalid_update_params(profile),
        "confirm": invalid_confirm_params(profile),
        "capture": invalid_capture_params(profile, amount_capturable=HOLD),
        "cancel": invalid_cancel_params(profile),
        "list": invalid_list_params(profile),
        "refund": invalid_refund_params(profile, refundable=HOLD),
    }
    if profile == "casapay":
        by_operation["increment_authorization"] = invalid_increment_params(profile, amount=HOLD)
    strategy = by_operation[operation]
    if operation in ("create", "list"):
        return strategy
    # An operation on one intent may also be pointed at an intent that is not there, with
    # parameters that are otherwise valid (an increment requires its new total).
    required = {"amount": HOLD + 1} if operation == "increment_authorization" else {}
    elsewhere = invalid_intent_ids().map(
        lambda d: InvalidParams({**required, **d.params}, d.code, d.param)
    )
    return st.one_of(strategy, elsewhere)


def _call(
    service: PaymentIntents, operation: str, intent: PaymentIntent, params: dict[str, Any]
) -> Any:
    if operation in ("create", "list"):
        return getattr(service, operation)(**params)
    params = dict(params)
    target = params.pop("intent_id", intent.id)
    return getattr(service, operation)(target, **params)


OPERATIONS = ["create", "update", "confirm", "capture", "cancel", "list", "refund"]
#: Incremental authorization is CasaPay's alone: PayRex captures a hold once.
CASES = [
    *((profile, operation) for profile in ("casapay", "payrex") for operation in OPERATIONS),
    ("casapay", "increment_authorization"),
]


@pytest.mark.payment_intent_stores("memory")  # byte-for-byte snapshots are the in-memory store's
@pytest.mark.parametrize(("profile", "operation"), CASES)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_an_invalid_request_raises_the_labelled_error_and_stores_nothing(
    payment_intents_factory: Factory, profile: str, operation: str, data: st.DataObject
) -> None:
    service = payment_intents_factory(profile)
    intent = _seed(service, operation)
    store = service.store
    assert isinstance(store, InMemoryStore)
    invalid = data.draw(_strategy(operation, profile), label="invalid")
    before = store.snapshot()

    with pytest.raises(InvalidRequestError) as raised:
        _call(service, operation, intent, invalid.params)

    error = raised.value
    assert (error.code, error.param) == (invalid.code, invalid.param), error
    assert error.type == "invalid_request_error"
    assert error.http_status == (404 if error.code == "resource_missing" else 400)
    assert store.snapshot() == before, "a refused request changed the store"


@pytest.mark.parametrize("profile", ["casapay", "payrex"])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_invalid_create_is_valid_once_its_one_defect_is_removed(
    profile: str, data: st.DataObject
) -> None:
    """The labels are honest only if the defect is the sole problem: drop the defective
    parameters and what is left must be a create the service accepts."""
    invalid = data.draw(invalid_create_params(profile))
    root = invalid.param.split("[")[0]  # metadata[order] -> metadata
    cleaned = {name: value for name, value in invalid.params.items() if name != root}
    if root in ("amount", "currency"):
        cleaned.update(amount=5_000, currency="php" if profile == "payrex" else "eur")
    if root == "payment_method":
        cleaned.pop("confirm", None)  # confirming needs the payment method just dropped
    created = PaymentIntents(profile=profile).create(**cleaned)
    assert created.version == 1
