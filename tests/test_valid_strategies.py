"""What the kit draws as valid is valid: the service accepts it, and every store keeps it as drawn,
whatever characters its strings hold."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payment_intent import PaymentIntents
from payment_intent.testing.strategies import create_params, metadata

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
