"""The service against an independent reference model, under every operation, for both profiles."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from payment_intent import PaymentIntent
from payment_intent.domain.model import Refund
from payment_intent.errors import CardError, PaymentIntentError
from payment_intent.testing.machine import Call, PaymentIntentMachine
from tests.reference_model import Model, Ref, Refused

#: Operations on a refund, by its id: the model finds the intent that holds it.
REFUND_OPERATIONS = {"settle_refund", "cancel_refund", "update_refund"}


class ModelledMachine(PaymentIntentMachine):
    """PaymentIntentMachine plus a reference model that predicts every result."""

    def __init__(self) -> None:
        super().__init__()
        self.model = Model(self.profile)
        #: refund id -> the id of the intent that holds it
        self.model_refunds: dict[str, str] = {}

    def check_call(self, call: Call) -> None:
        super().check_call(call)
        if call.operation == "list":
            return
        self.model_call(call)

    def model_call(self, call: Call) -> None:
        result: Any = call.result
        now = call.at
        try:
            if call.operation == "create":
                params = {k: v for k, v in call.kwargs.items() if v is not None}
                ref, declined = self.model.create(params, now)
                intent = result.payment_intent if isinstance(result, CardError) else result
                assert isinstance(intent, PaymentIntent), f"model expected success, got {result!r}"
                self.model.intents[intent.id] = ref
                self._expect_outcome(result, declined)
                return
            self.model.check_params(call.operation, call.kwargs)
            if call.operation in REFUND_OPERATIONS:
                owner = self.model_refunds.get(call.args[0])
                if owner is None:
                    raise Refused("resource_missing")
                ref = self.model.intents[owner]
            else:
                ref = self.model.intents[call.args[0]]
            if call.operation != "retrieve":  # a read shows a lapsed hold; a command stores it
                self.model.expire_due(ref, now)
            declined = self._apply(call, ref, now)
        except Refused as refused:
            assert isinstance(result, PaymentIntentError), (
                f"model expected {refused.code} from {call.operation}, got {result!r}"
            )
            assert result.code == refused.code, (call.operation, result, refused.code)
            return
        self._expect_outcome(result, declined)

    def _apply(self, call: Call, ref: Ref, now: int) -> str | None:
        kwargs = {k: v for k, v in call.kwargs.items() if v is not None and k != "idempotency_key"}
        match call.operation:
            case "confirm":
                return self.model.confirm(ref, kwargs.get("payment_method"), now)
            case "complete_action":
                self.model.complete_action(ref, kwargs["succeed"], now)
            case "settle":
                self.model.settle(ref, kwargs["succeed"], now)
            case "capture":
                final = kwargs.get("final_capture", True)
                self.model.capture(ref, kwargs.get("amount_to_capture"), final)
            case "increment_authorization":
                return self.model.increment(ref, kwargs["amount"])
            case "refund":
                # The refund's id is the service's to choose; the model predicts the rest.
                made = call.result.id if isinstance(call.result, Refund) else "re_refused"
                status = self.model.refund(ref, made, kwargs.get("amount"), kwargs.get("reason"))
                assert isinstance(call.result, Refund), f"model expected a refund: {call.result!r}"
                assert call.result.status == status, (call.result, status)
                self.model_refunds[made] = call.args[0]
                return "refund"
            case "settle_refund":
                to = "succeeded" if kwargs["succeed"] else "failed"
                self.model.move_refund(ref, call.args[0], to)
                return "refund"
            case "cancel_refund":
                self.model.move_refund(ref, call.args[0], "canceled")
                return "refund"
            case "update_refund":
                self.model.move_refund(ref, call.args[0], None)
                return "refund"
            case "cancel":
                self.model.cancel(ref, kwargs.get("cancellation_reason"))
            case "update":
                self.model.update(ref, kwargs)
            case "retrieve":
                pass
            case other:
                raise AssertionError(f"unmodelled operation {other}")
        return None

    @staticmethod
    def _expect_outcome(result: Any, declined: str | None) -> None:
        if declined == "refund":
            assert isinstance(result, Refund), f"model expected a refund, got {result!r}"
        elif declined is not None:
            assert isinstance(result, CardError), f"model expected a decline, got {result!r}"
            assert result.code == declined
        else:
            assert isinstance(result, PaymentIntent), f"model expected success, got {result!r}"

    def expire_authorizations(self) -> None:
        self.model.expire_all(self.clock.now())
        super().expire_authorizations()

    def check_state(self, stored: dict[str, PaymentIntent]) -> None:
        assert set(stored) == set(self.model.intents)
        now = self.clock.now()
        for intent_id, intent in stored.items():
            ref = self.model.intents[intent_id]
            shown = self.model.as_of(ref, now)
            actual = (
                intent.status.value,
                intent.amount,
                intent.amount_capturable,
                intent.amount_received,
                intent.version,
                intent.capture_before_at,
                intent.payment_method,
                intent.cancellation_reason,
                intent.last_payment_error is not None,
            )
            expected = (
                shown.status,
                shown.amount,
                shown.capturable,
                shown.received,
                shown.version,
                shown.capture_before_at,
                shown.payment_method,
                shown.reason,
                shown.has_error,
            )
            assert actual == expected, f"{intent_id}: service {actual} != model {expected}"
            events = [e.type for e in self.events_by_intent.get(intent_id, [])]
            assert events == ref.events, f"{intent_id}: events {events} != model {ref.events}"


class CasaPayMachine(ModelledMachine):
    profile = "casapay"


class PayRexMachine(ModelledMachine):
    profile = "payrex"


STATEFUL = settings(max_examples=150, stateful_step_count=40, deadline=None)


@pytest.mark.parametrize(
    "machine",
    [CasaPayMachine, PayRexMachine],
    ids=["casapay", "payrex"],
)
def test_service_matches_the_reference_model_and_keeps_every_invariant(machine: type) -> None:
    run_state_machine_as_test(machine, settings=STATEFUL)
