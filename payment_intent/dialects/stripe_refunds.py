"""Stripe's refunds on the CasaPay wire: ``/v1/refunds`` over the service's refund operations, and
the refund events (``refund.*`` carry the refund, ``charge.refunded`` the charge).

A refund names what it refunds in its body, as Stripe's does: ``payment_intent``, or the
``charge``, whose id says which intent holds it (:func:`payment_intent.ids.charge_owner`). Every
rule about the money is the service's; this module only finds the intent and renders the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from payment_intent.dialects import stripe_objects
from payment_intent.dialects.stripe_objects import View
from payment_intent.domain import refunds
from payment_intent.domain.errors import (
    InvalidRequestError,
    PaymentIntentError,
    parameter_invalid,
    resource_missing,
)
from payment_intent.domain.model import Event, PaymentIntent, Refund
from payment_intent.domain.params import OutcomeParams, parse
from payment_intent.domain.params import intent_id as checked_id
from payment_intent.ids import charge_owner
from payment_intent.service import PaymentIntents

#: The refund operations CasaPay routes (``/v1/refunds``, its test helper).
OPERATIONS = frozenset(
    {"refund", "retrieve_refund", "list_refunds", "update_refund", "cancel_refund", "settle_refund"}
)
#: What a new refund is of: taken aside before the refund's own parameters are read.
TARGETS = ("payment_intent", "charge")
#: The refund events whose ``data.object`` is the refund (``charge.refunded`` carries the charge).
REFUND_EVENTS = frozenset({"refund.created", "refund.updated", "refund.failed"})

#: Renders a refund with the intent that holds it (the dialect keeps the intent for expansion).
Render = Callable[[Refund, PaymentIntent], dict[str, Any]]


def answer(
    operation: str,
    service: PaymentIntents,
    refund_id: str,
    params: dict[str, Any],
    idempotency_key: str | None,
    render: Render,
) -> dict[str, Any]:
    """The answer to one of :data:`OPERATIONS`; a refund id that names nothing is a 404 on
    ``id``, as Stripe's is."""
    if operation == "refund":
        return _create(service, params, idempotency_key, render)
    if operation == "list_refunds":
        page = service.list_refunds(**params)
        holders: dict[str, PaymentIntent] = {}
        data = [render(r, _holder(service, r, holders)) for r in page]
        return {"object": "list", "data": data, "has_more": page.has_more, "url": "/v1/refunds"}
    try:
        if operation == "retrieve_refund":
            found = service.retrieve_refund(refund_id)
        elif operation == "update_refund":
            found = service.update_refund(refund_id, **params, idempotency_key=idempotency_key)
        elif operation == "cancel_refund":
            found = service.cancel_refund(refund_id, idempotency_key=idempotency_key)
        else:
            outcome = parse(OutcomeParams, params)
            found = service.settle_refund(
                refund_id, succeed=outcome.succeed, idempotency_key=idempotency_key
            )
    except InvalidRequestError as missing:
        if missing.code == "resource_missing" and missing.param == "refund":
            missing.param = "id"
        raise
    return render(found, _holder(service, found, {}))


def _create(
    service: PaymentIntents,
    params: dict[str, Any],
    idempotency_key: str | None,
    render: Render,
) -> dict[str, Any]:
    named = {name: params.pop(name) for name in TARGETS if name in params}
    if not named:
        raise InvalidRequestError(
            "Name what to refund: payment_intent or charge.",
            code="parameter_missing",
            param="payment_intent",
        )
    intent_id = (
        checked_id(named["payment_intent"], "payment_intent") if "payment_intent" in named else None
    )
    if "charge" in named:
        charge = checked_id(named["charge"], "charge")
        intent_id = _charge_intent(service, charge, intent_id)
        params["charge"] = charge
    assert intent_id is not None  # one of the two was named
    try:
        created = service.refund(intent_id, **params, idempotency_key=idempotency_key)
    except PaymentIntentError as refused:
        # Stripe's refund errors carry no PaymentIntent; and the service speaks of the intent,
        # where a caller who named the charge reads of the charge.
        refused.payment_intent = None
        if refused.param == "payment_intent" and "payment_intent" not in named:
            refused.param = "charge"
        raise
    return render(created, service.retrieve(created.payment_intent))


def _charge_intent(service: PaymentIntents, charge: str, named_intent: str | None) -> str:
    """The intent that holds ``charge`` (the domain decides whether that charge can be refunded)."""
    owner = charge_owner(charge)
    if owner is None:
        raise resource_missing("charge", "charge", charge)
    try:
        intent = service.retrieve(owner)
    except InvalidRequestError as missing:
        if missing.code == "resource_missing":
            raise resource_missing("charge", "charge", charge) from None
        raise
    if named_intent is not None and named_intent != intent.id:
        raise parameter_invalid(
            "charge", f"Charge {charge} belongs to another PaymentIntent than {named_intent}."
        )
    return intent.id


def _holder(service: PaymentIntents, r: Refund, seen: dict[str, PaymentIntent]) -> PaymentIntent:
    found = seen.get(r.payment_intent)
    if found is None:
        found = seen[r.payment_intent] = service.retrieve(r.payment_intent)
    return found


# -- events ------------------------------------------------------------------------------------


def event_object(event: Event, view: View) -> tuple[dict[str, Any], dict[str, Any]]:
    """``data.object`` and ``previous_attributes`` of a refund event, in ``view``'s version:
    the refund (as it was before, for an update), or for ``charge.refunded`` the charge with
    what the refund changed on it."""
    assert event.refund is not None  # the caller asks only about refund events
    intent = event.data
    refund = refunds.find(intent, event.refund)
    if event.type in REFUND_EVENTS:
        now = stripe_objects.refund(refund, intent, view)
        if not event.previous_attributes:
            return now, {}
        before_refund = Refund.model_validate(
            {**refund.model_dump(mode="json"), **event.previous_attributes}
        )
        old = stripe_objects.refund(before_refund, intent, view)
        return now, {k: v for k, v in old.items() if now.get(k) != v}
    charge = next(c for c in intent.charges if c.id == refund.charge)
    now = stripe_objects.charge(charge, intent, view)
    # The charge before this refund: without it, and without the money it sends back.
    sent = refund.amount if refund.holds_money else 0
    earlier = intent.evolve(refunds=tuple(r for r in intent.refunds if r.id != refund.id))
    before_charge = charge.model_copy(update={"amount_refunded": charge.amount_refunded - sent})
    old = stripe_objects.charge(before_charge, earlier, view)
    return now, {k: v for k, v in old.items() if now.get(k) != v}
