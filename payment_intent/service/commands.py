"""A command as the service runs it, and which domain decision each operation makes.

A :class:`Command` is an operation with its validated parameters. :func:`decide` hands it to the
domain with what the domain needs from the ports (the payment method the processor knows, fresh
ids); it is also how a later command re-decides a claimed attempt whose claimer crashed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from payment_intent.domain import aggregate, charges, holds, refunds
from payment_intent.domain.decisions import Decision
from payment_intent.domain.model import PaymentIntent
from payment_intent.domain.outcomes import PaymentMethod
from payment_intent.domain.profiles import Profile
from payment_intent.ids import charge_id, new_client_secret, new_id
from payment_intent.ports import Processor


@dataclass(frozen=True, slots=True)
class Command:
    """``operation`` with its validated ``params``; ``intent_id`` is ``None`` for a create."""

    operation: str
    intent_id: str | None
    params: Any
    idempotency_key: str | None = None

    def params_data(self) -> dict[str, Any]:
        """The parameters the caller gave, as JSON data (the claim and the fingerprint keep it)."""
        params: BaseModel = self.params
        return params.model_dump(mode="json", exclude_unset=True)


@dataclass(frozen=True, slots=True)
class Context:
    """What a decision needs besides the intent: the rules, the processor's methods, the mode."""

    profile: Profile
    processor: Processor
    livemode: bool

    def method(self, payment_method_id: str | None) -> PaymentMethod | None:
        return self.processor.payment_method(payment_method_id) if payment_method_id else None


def decide(
    context: Context,
    command: Command,
    intent: PaymentIntent | None,
    now: int,
    *,
    attempt_id: str,
    new_intent_id: str,
) -> Decision:
    """The domain's decision on ``command`` for ``intent`` (``None`` for a create) at ``now``."""
    params = command.params
    profile = context.profile
    if command.operation == "create":
        return aggregate.create(
            profile,
            params,
            context.method(params.payment_method),
            intent_id=new_intent_id,
            client_secret=new_client_secret(new_intent_id),
            now=now,
            livemode=context.livemode,
            attempt_id=attempt_id,
            charge_id=charge_id(new_intent_id, 1),
        )
    assert intent is not None  # every other command names an intent
    if command.operation == "update":
        method = context.method(params.payment_method or intent.payment_method)
        return aggregate.update(profile, intent, params, method, now)
    if command.operation in ("confirm", "attach"):
        method = context.method(params.payment_method or intent.payment_method)
        return aggregate.confirm(
            profile,
            intent,
            params,
            method,
            now=now,
            attempt_id=attempt_id,
            charge_id=charge_id(intent.id, intent.version + 1),
        )
    attached = context.method(intent.payment_method)
    if command.operation == "capture":
        return holds.capture(profile, intent, params, attached, now=now, attempt_id=attempt_id)
    if command.operation == "increment_authorization":
        return holds.increment(profile, intent, params, attached, now=now, attempt_id=attempt_id)
    if command.operation == "cancel":
        return holds.cancel(profile, intent, params, attached, now=now, attempt_id=attempt_id)
    if command.operation == "refund":
        return refunds.refund(
            profile,
            intent,
            params,
            attached,
            now=now,
            refund_id=new_id("re"),
            attempt_id=attempt_id,
        )
    if command.operation in ("update_refund", "cancel_refund", "settle_refund"):
        if params.move is None:
            return refunds.update(intent, params.refund, params.changes, now)
        return refunds.move(intent, params.refund, params.move, now)
    if command.operation == "update_charge":
        return charges.annotate(intent, params, now)
    if command.operation == "complete_action":
        return aggregate.complete_action(
            profile,
            intent,
            params.succeed,
            attached,
            now=now,
            attempt_id=attempt_id,
            charge_id=charge_id(intent.id, intent.version + 1),
        )
    if command.operation == "settle":
        return aggregate.settle(
            profile,
            intent,
            params.succeed,
            attached,
            now=now,
            attempt_id=attempt_id,
            charge_id=charge_id(intent.id, intent.version + 1),
        )
    raise ValueError(f"{command.operation} is not a command")
