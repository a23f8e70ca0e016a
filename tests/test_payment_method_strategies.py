"""The kit draws payment methods the intent accepts: by default those of an intent created without
``payment_method_types`` (cards), or those of the types it is told."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payment_intent import PaymentIntents
from payment_intent.errors import CardError
from payment_intent.testing.strategies import (
    declined_payment_method_ids,
    payment_method_ids,
)

Factory = Callable[..., PaymentIntents]
fresh = settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
PROFILES = ["casapay", "payrex"]
CURRENCY = {"casapay": "eur", "payrex": "php"}
AMOUNT = {"casapay": 1000, "payrex": 2000}


def confirm_with(service: PaymentIntents, profile: str, method: str) -> None:
    """Create an intent and confirm it with ``method``: accepted, or declined (a CardError);
    a refused method raises InvalidRequestError and fails the test."""
    intent = service.create(amount=AMOUNT[profile], currency=CURRENCY[profile])
    with contextlib.suppress(CardError):
        service.confirm(intent.id, payment_method=method, return_url="https://shop.example/")


@pytest.mark.parametrize("profile", PROFILES)
@fresh
@given(data=st.data())
def test_a_method_drawn_by_default_is_accepted_by_an_intent_created_without_types(
    payment_intents_factory: Factory, profile: str, data: st.DataObject
) -> None:
    method = data.draw(payment_method_ids(profile))
    confirm_with(payment_intents_factory(profile), profile, method)


@fresh
@given(data=st.data())
def test_a_method_drawn_for_the_intent_s_types_is_accepted_by_it(
    payment_intents_factory: Factory, data: st.DataObject
) -> None:
    service = payment_intents_factory("casapay")
    types = ["open_banking", "direct_debit"]
    intent = service.create(amount=1000, currency="eur", payment_method_types=types)
    method = data.draw(payment_method_ids("casapay", types=intent.payment_method_types))
    service.confirm(intent.id, payment_method=method)  # no card among them: nothing declines


def test_bank_methods_are_drawn_only_when_the_types_include_them() -> None:
    async_methods = {"pm_open_banking", "pm_direct_debit"}
    every = payment_method_ids("casapay", types=["card", "open_banking", "direct_debit"])
    assert async_methods <= set(values_of(every))
    assert not async_methods & set(values_of(payment_method_ids("casapay")))


def test_wallets_are_drawn_only_when_the_types_include_them() -> None:
    wallets = payment_method_ids("payrex", "authentication_required", types=["gcash", "maya"])
    assert set(values_of(wallets)) == {"pm_gcash", "pm_maya"}
    cards = values_of(payment_method_ids("payrex", "authentication_required"))
    assert cards
    assert all(method.startswith("pm_card_") for method in cards)


def test_asking_for_an_outcome_the_intent_s_types_cannot_have_says_to_pass_types() -> None:
    with pytest.raises(ValueError, match=r"pass types=\[\.\.\.\]"):
        payment_method_ids("casapay", "asynchronous")


def test_types_the_profile_does_not_offer_are_refused() -> None:
    with pytest.raises(ValueError, match="gcash"):
        payment_method_ids("casapay", types=["card", "gcash"])


def test_an_unknown_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown outcome 'refunded'"):
        payment_method_ids("casapay", "refunded")


def test_declined_methods_follow_the_types_too() -> None:
    assert values_of(declined_payment_method_ids("casapay", decline_code="insufficient_funds")) == [
        "pm_card_visa_chargeDeclinedInsufficientFunds"
    ]
    with pytest.raises(ValueError, match="not among"):
        declined_payment_method_ids("payrex", types=["open_banking"])


def values_of(strategy: st.SearchStrategy[str]) -> list[str]:
    """Every value a strategy over a few values can draw, sorted: Hypothesis stops drawing once it
    has tried them all."""
    found: set[str] = set()

    @settings(max_examples=200, database=None)
    @given(strategy)
    def collect(value: str) -> None:
        found.add(value)

    collect()
    return sorted(found)
