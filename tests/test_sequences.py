"""Checkout sequences: drawn from the strategies, replayed on a service, the same every time."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payment_intent import PaymentIntent, PaymentIntents, SystemClock
from payment_intent.errors import CardError, InvalidRequestError
from payment_intent.testing import History
from payment_intent.testing.sequences import Step, replay
from payment_intent.testing.strategies import (
    checkout_sequences,
    declined_payment_method_ids,
    payment_method_ids,
)

Factory = Callable[..., PaymentIntents]
FRESH_SERVICES = settings(
    max_examples=75, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _summary(result: PaymentIntent | Exception) -> tuple[str, ...]:
    if isinstance(result, PaymentIntent):
        return ("intent", result.status.value, str(result.amount_received), str(result.version))
    return ("error", type(result).__name__, getattr(result, "code", ""))


@pytest.mark.parametrize("profile", ["casapay", "payrex"])
@FRESH_SERVICES
@given(data=st.data())
def test_a_drawn_checkout_replays_step_by_step_keeping_every_invariant(
    payment_intents_factory: Factory, profile: str, data: st.DataObject
) -> None:
    steps = data.draw(checkout_sequences(profile), label="steps")
    results = replay(payment_intents_factory(profile), steps)

    assert len(results) == len(steps)
    history = History()
    for step, result in zip(steps, results, strict=True):
        # Sequences follow the lifecycle: only the processor's declines refuse a step.
        assert isinstance(result, PaymentIntent | CardError), (step, result)
        intent = result if isinstance(result, PaymentIntent) else result.payment_intent
        assert intent is not None
        history.observe(intent)
    again = replay(payment_intents_factory(profile), steps)
    assert [_summary(r) for r in again] == [_summary(r) for r in results], "replay is repeatable"


@pytest.mark.parametrize("profile", ["casapay", "payrex"])
@FRESH_SERVICES
@given(data=st.data())
def test_declined_methods_decline_with_the_code_asked_for(
    payment_intents_factory: Factory, profile: str, data: st.DataObject
) -> None:
    code = data.draw(st.sampled_from(["card_declined", "expired_card"]), label="code")
    method = data.draw(declined_payment_method_ids(profile, code=code), label="payment_method")
    service = payment_intents_factory(profile)
    with pytest.raises(CardError) as declined:
        service.create(
            amount=5000,
            currency=(service.profile.name == "payrex" and "php") or "eur",
            payment_method=method,
            confirm=True,
        )
    assert declined.value.code == code


def test_declines_can_be_narrowed_to_one_decline_code() -> None:
    @settings(max_examples=10)
    @given(declined_payment_method_ids(decline_code="insufficient_funds"))
    def only_insufficient_funds(method: str) -> None:
        assert method == "pm_card_visa_chargeDeclinedInsufficientFunds"

    only_insufficient_funds()
    with pytest.raises(ValueError, match="no test payment method"):
        declined_payment_method_ids(code="no_such_code")
    with pytest.raises(ValueError, match="no test payment method"):
        payment_method_ids("payrex", "asynchronous")


def test_replay_refuses_what_is_not_a_checkout(payment_intents: PaymentIntents) -> None:
    with pytest.raises(InvalidRequestError, match="starts with a create"):
        replay(payment_intents, [Step("confirm", {})])
    with pytest.raises(InvalidRequestError, match="Unknown step operation"):
        replay(
            payment_intents, [Step("create", {"amount": 100, "currency": "eur"}), Step("pay", {})]
        )
    on_the_wall_clock = PaymentIntents(clock=SystemClock())
    with pytest.raises(InvalidRequestError, match="ManualClock"):
        replay(
            on_the_wall_clock,
            [
                Step("create", {"amount": 100, "currency": "eur"}),
                Step("advance_clock", {"seconds": 1}),
            ],
        )
    assert len(payment_intents.list()) == 0, "a refused sequence ran nothing"


def test_replay_stops_when_the_create_is_refused_and_goes_on_after_a_decline(
    payment_intents: PaymentIntents,
) -> None:
    refused = replay(
        payment_intents, [Step("create", {"amount": 0, "currency": "eur"}), Step("cancel", {})]
    )
    assert len(refused) == 1
    assert isinstance(refused[0], InvalidRequestError)

    declined = replay(
        payment_intents,
        [
            Step(
                "create",
                {
                    "amount": 900,
                    "currency": "eur",
                    "payment_method": "pm_card_visa_chargeDeclined",
                    "confirm": True,
                },
            ),
            Step("confirm", {"payment_method": "pm_card_visa"}),
            Step("capture", {}),
        ],
    )
    assert isinstance(declined[0], CardError)
    assert isinstance(declined[1], PaymentIntent)
    assert declined[1].status == "succeeded"
    assert isinstance(declined[2], InvalidRequestError)
    assert declined[2].code == "payment_intent_unexpected_state"
