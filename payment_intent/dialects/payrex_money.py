"""PayRex's money after the hold: the Payment resource and the Refund resource, on its wire.

PayRex refunds a *Payment* (``pay_...``), the object an intent's ``latest_payment`` shows, and
names it in the body of ``POST /refunds`` (``payment_id``); ``PUT /refunds/{id}`` changes a
refund's metadata; ``GET /payments/{id}`` and ``PUT /payments/{id}`` read a Payment and change its
metadata. PayRex has no route to read or list refunds, nor to cancel one: none is served.

A Payment is one of our charges, and its PayRex id is the charge's with PayRex's prefix (``pay_``
for ``ch_``). A charge's id names the intent that holds it (:func:`ids.charge_id`), so the server
finds a Payment without an index of charges. Every rule (what may be refunded, how much) stays in
the domain; this module translates ids and shapes only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from payment_intent.domain import charges as domain_charges
from payment_intent.domain import refunds as domain_refunds
from payment_intent.domain.errors import InvalidRequestError, resource_missing
from payment_intent.domain.model import Charge, Event, PaymentIntent, Refund
from payment_intent.domain.params import (
    Amount,
    Currency,
    Description,
    Id,
    Metadata,
    RefundReasonName,
    parse,
)
from payment_intent.domain.status import EventType
from payment_intent.ids import charge_owner

if TYPE_CHECKING:
    from payment_intent.service import PaymentIntents

_PAYMENT_STATUSES = {"succeeded": "paid", "failed": "failed", "pending": "pending"}


class RefundRequest(BaseModel):
    """``POST /refunds`` as PayRex takes it: the payment, amount, currency and reason required.

    ``payment_intent`` is the wire's ``payment_id`` (the dialect renames it): a Payment's id names
    the intent that holds it, and errors about the intent then name ``payment_id``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    payment_intent: Id
    amount: Amount
    currency: Currency
    reason: RefundReasonName
    description: Description | None = None
    remarks: Description | None = None
    metadata: Metadata | None = None


#: The canonical parameters each PayRex money route takes (PayRex edits only metadata).
ACCEPTED: dict[str, frozenset[str]] = {
    "refund": frozenset(RefundRequest.model_fields),
    "update_refund": frozenset({"metadata"}),
    "update_charge": frozenset({"metadata"}),
}


# -- ids -----------------------------------------------------------------------------------------


def payment_id(charge_id: str) -> str:
    """The PayRex id of the charge ``charge_id``."""
    return "pay_" + charge_id.removeprefix("ch_")


def _located(service: PaymentIntents, payment: str, param: str) -> tuple[PaymentIntent, Charge]:
    """The intent holding PayRex Payment ``payment``, and the charge it is; 404 naming ``param``."""
    missing = resource_missing(param, "payment", payment)
    charge_id = "ch_" + payment.removeprefix("pay_")
    intent_id = charge_owner(charge_id) if payment.startswith("pay_") else None
    if intent_id is None:
        raise missing
    try:
        intent = service.retrieve(intent_id)
    except InvalidRequestError as error:
        if error.code == "resource_missing":
            raise missing from None
        raise
    for charge in intent.charges:
        if charge.id == charge_id:
            return intent, charge
    raise missing


# -- the routes ----------------------------------------------------------------------------------


def answer(
    operation: str,
    service: PaymentIntents,
    object_id: str,
    params: dict[str, Any],
    idempotency_key: str | None,
) -> dict[str, Any] | None:
    """Answer a PayRex refund or payment route, or ``None`` for any other operation."""
    if operation == "refund":
        request = parse(RefundRequest, params)
        intent, charge = _located(service, request.payment_intent, "payment_intent")
        try:
            refund = service.refund(
                intent.id,
                charge=charge.id,
                **request.model_dump(exclude={"payment_intent"}, exclude_none=True),
                idempotency_key=idempotency_key,
            )
        except InvalidRequestError as refused:
            if refused.param == "charge":  # the Payment the caller named by payment_id
                refused.param = "payment_intent"
            raise
        return render_refund(refund, intent.livemode)
    if operation == "update_refund":
        refund = service.update_refund(object_id, **params, idempotency_key=idempotency_key)
        owner = service.retrieve(refund.payment_intent)
        return render_refund(refund, owner.livemode)
    if operation == "retrieve_charge":
        intent, charge = _located(service, object_id, "id")
        return render_payment(charge, intent)
    if operation == "update_charge":
        intent, charge = _located(service, object_id, "id")
        after = service.update_charge(
            intent.id, charge=charge.id, **params, idempotency_key=idempotency_key
        )
        return render_payment(domain_charges.find(after, charge.id), after)
    return None


# -- resources -----------------------------------------------------------------------------------


def render_payment(charge: Charge, intent: PaymentIntent) -> dict[str, Any]:
    """PayRex's Payment resource, in the order of its reference. The simulated processor takes no
    fee, so ``net_amount`` is what the payment collected less what its refunds send back."""
    return {
        "id": payment_id(charge.id),
        "resource": "payment",
        "amount": charge.amount,
        "amount_refunded": charge.amount_refunded,
        "billing": None,
        "currency": intent.currency.upper(),
        "description": intent.description,
        "fee": 0,
        "livemode": intent.livemode,
        "metadata": dict(charge.metadata) or None,
        "net_amount": domain_refunds.refundable(intent, charge),
        "payment_intent_id": intent.id,
        "status": _PAYMENT_STATUSES[charge.status],
        "customer": {"id": intent.customer, "resource": "customer"} if intent.customer else None,
        "payment_method": {"id": charge.payment_method, "type": charge.payment_method_type},
        "refunded": charge.refunded,
        "created_at": charge.created,
        # A charge keeps no time of its own changes; its intent's last change covers them.
        "updated_at": intent.updated_at,
    }


def render_refund(refund: Refund, livemode: bool) -> dict[str, Any]:
    """PayRex's Refund resource, in the order of its reference."""
    return {
        "id": refund.id,
        "resource": "refund",
        "amount": refund.amount,
        "status": refund.status.value,
        "currency": refund.currency.upper(),
        "description": refund.description or "",
        "reason": refund.reason,
        "remarks": refund.remarks,
        "livemode": livemode,
        "metadata": dict(refund.metadata) or None,
        "payment_id": payment_id(refund.charge),
        "created_at": refund.created,
        "updated_at": refund.updated_at,
    }


def event_data(event: Event) -> tuple[dict[str, Any], dict[str, Any]]:
    """The resource a refund's event carries, and its ``previous_attributes`` in PayRex's names:
    ``payment.refunded`` carries the Payment, ``refund.*`` the Refund."""
    assert event.refund is not None
    intent = event.data
    refund = domain_refunds.find(intent, event.refund)
    if event.type == EventType.CHARGE_REFUNDED.value:
        return render_payment(domain_charges.find(intent, refund.charge), intent), {}
    after = render_refund(refund, intent.livemode)
    if not event.previous_attributes:
        return after, {}
    before = Refund.model_validate({**refund.model_dump(mode="json"), **event.previous_attributes})
    old = render_refund(before, intent.livemode)
    return after, {key: value for key, value in old.items() if after.get(key) != value}
