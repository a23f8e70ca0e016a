"""What the kit draws as valid is valid: the service accepts it, and every store keeps it as drawn,
whatever characters its strings hold."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payment_intent import PaymentIntents
from payment_intent.errors import InvalidRequestError
from payment_intent.testing.strategies import (
    capture_params,
    create_params,
    flexible_acquiring_options,
    increment_params,
    metadata,
    refund_params,
)

Factory = Callable[..., PaymentIntents]
fresh = settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.payment_intent_stores("memory", "sqlite")
@pytest.mark.parametrize("profile", ["casapay", "payrex"])
@fresh
@given(data=st.data())
def test_drawn_create_params_are_accepted_and_stored_as_drawn(
    payment_intents_factory: Factory, profile: str, data: st.DataObject
) -> None:
    params = data.draw(create_params(profile))
    service = payment_intents_factory(profile)
    intent = service.retrieve(service.create(**params).id)
    for name in ("amount", "customer", "metadata"):
        if name in params:
            assert getattr(intent, name) == params[name], name
    if "description" in params:  # an empty one, as the providers take it, is none
        assert intent.description == (params["description"] or None)


@pytest.mark.payment_intent_stores("memory", "sqlite")
@fresh
@given(drawn=metadata())
def test_drawn_metadata_of_up_to_fifty_keys_is_accepted_and_kept(
    payment_intents_factory: Factory, drawn: dict[str, str]
) -> None:
    service = payment_intents_factory("casapay")
    intent = service.create(amount=1000, currency="eur")
    service.update(intent.id, metadata=drawn)
    assert service.retrieve(intent.id).metadata == drawn


EVERYTHING = {
    "card": {
        f"request_{feature}": "if_available"
        for feature in ("multicapture", "overcapture", "incremental_authorization")
    }
}


@pytest.mark.parametrize("profile", ["casapay", "payrex"])
@fresh
@given(data=st.data())
def test_drawn_captures_and_refunds_are_accepted_and_refund_what_they_say(
    payment_intents_factory: Factory, profile: str, data: st.DataObject
) -> None:
    service = payment_intents_factory(profile)
    casapay = profile == "casapay"
    hold = service.create(
        amount=10_000,
        currency="eur" if casapay else "php",
        payment_method="pm_card_visa",
        confirm=True,
        **(
            {"capture_method": "manual", "payment_method_options": EVERYTHING}
            if casapay
            else {"payment_method_options": {"card": {"capture_type": "manual"}}}
        ),
    )
    capture = data.draw(capture_params(profile, hold.amount_capturable, multicapture=casapay))
    captured = service.capture(hold.id, **capture)
    collected = captured.amount_received
    assert collected == capture.get("amount_to_capture", hold.amount_capturable)
    refund = data.draw(refund_params(profile, refundable=collected))
    made = service.refund(hold.id, **refund)
    assert made.status == "succeeded"
    assert made.amount == refund.get("amount", collected)
    assert service.retrieve(hold.id).status is captured.status


@fresh
@given(data=st.data(), options=flexible_acquiring_options("casapay"))
def test_drawn_increments_raise_a_granted_hold_to_the_new_total(
    payment_intents_factory: Factory, data: st.DataObject, options: dict[str, Any]
) -> None:
    service = payment_intents_factory("casapay")
    hold = service.create(
        amount=10_000,
        currency="eur",
        capture_method="manual",
        payment_method="pm_card_visa",
        payment_method_options=options,
        confirm=True,
    )
    params = data.draw(increment_params("casapay", "eur", hold.amount))
    granted = options["card"].get("request_incremental_authorization") == "if_available"
    if not granted:
        with pytest.raises(InvalidRequestError):
            service.increment_authorization(hold.id, **params)
        return
    raised = service.increment_authorization(hold.id, **params)
    assert raised.amount == raised.amount_capturable == params["amount"]
    assert raised.capture_before_at == hold.capture_before_at
