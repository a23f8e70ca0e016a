"""Stripe's objects as the CasaPay dialect renders them: PaymentIntent, Charge, Refund, error.

Every property of Stripe's object for the requested API version is present (``null`` where this
stand-in does not model it), so code that reads ``intent.shipping`` or ``charge.refunds`` meets
what Stripe would send. Two shapes of the PaymentIntent exist (:mod:`.versions`): up to
2022-11-15 the intent carries its ``charges`` list; from then on ``latest_charge`` instead.

Rendering is pure: a :class:`View` says which version to render and how to show a payment method,
and the functions build a fresh dict for every call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from payment_intent.dialects import payment_method_objects
from payment_intent.dialects.versions import DEFAULT, ApiVersion
from payment_intent.domain.errors import AuthenticationError, PaymentIntentError
from payment_intent.domain.model import (
    Charge,
    Event,
    NextAction,
    PaymentError,
    PaymentIntent,
    PaymentMethodOptions,
    Refund,
    Shipping,
)
from payment_intent.domain.outcomes import PaymentMethod
from payment_intent.domain.status import Grant, RefundStatus, Status

#: Where Stripe documents each error code (``card_declined`` → ``…/card-declined``).
DOC_URL = "https://stripe.com/docs/error-codes/"


@dataclass(frozen=True, slots=True)
class View:
    """What a rendering needs besides the objects: the API version, and the payment methods the
    processor knows (for the objects inside ``last_payment_error`` and on expansion)."""

    version: ApiVersion
    methods: Callable[[str], PaymentMethod | None]

    def payment_method(self, method_id: str, *, livemode: bool) -> dict[str, Any]:
        method = self.methods(method_id)
        if method is None:
            return payment_method_objects.unknown(method_id, livemode=livemode)
        return payment_method_objects.render(method, livemode=livemode)


def _no_methods(method_id: str) -> PaymentMethod | None:
    from payment_intent.adapters.simulated import SimulatedProcessor

    return SimulatedProcessor().payment_method(method_id)


#: Outside a request (a backend rendering what the service returned): the default version and
#: the simulated processor's test methods.
DEFAULT_VIEW = View(DEFAULT, _no_methods)


# -- the PaymentIntent --------------------------------------------------------------------------


def intent(pi: PaymentIntent, view: View) -> dict[str, Any]:
    """The full PaymentIntent, as a secret-key caller sees it in ``view.version``."""
    latest = pi.latest_charge
    body: dict[str, Any] = {
        # The fields of the CasaPay API document, in its order.
        "id": pi.id,
        "object": "payment_intent",
        "amount": pi.amount,
        "currency": pi.currency,
        "status": pi.status.value,
        "customer": pi.customer,
        "payment_method": pi.payment_method,
        "payment_method_types": list(pi.payment_method_types),
        "description": pi.description,
        "client_secret": pi.client_secret,
        "capture_method": pi.capture_method.value,
        "amount_received": pi.amount_received,
        "metadata": dict(pi.metadata),
        "created": pi.created,
        "livemode": pi.livemode,
        # Its attribute table, then the rest of Stripe's object.
        "confirmation_method": pi.confirmation_method.value,
    }
    if not view.version.latest_charge:
        body["charges"] = charge_list(pi, view)
    body["last_payment_error"] = payment_error(pi.last_payment_error, pi, view)
    body["next_action"] = next_action(pi.next_action)
    body["amount_capturable"] = pi.amount_capturable
    # Not Stripe's: SPEC puts the hold's deadline at the top; Stripe's own place is
    # charges.data[].payment_method_details.card.capture_before, which carries it too.
    body["capture_before_at"] = pi.capture_before_at
    body["canceled_at"] = pi.canceled_at
    body["cancellation_reason"] = pi.cancellation_reason.value if pi.cancellation_reason else None
    body["latest_charge"] = latest.id if latest else None
    body["payment_method_options"] = method_options(pi.payment_method_options, pi)
    body["statement_descriptor"] = pi.statement_descriptor
    body["statement_descriptor_suffix"] = pi.statement_descriptor_suffix
    body["receipt_email"] = pi.receipt_email
    body["shipping"] = shipping(pi.shipping)
    body["setup_future_usage"] = pi.setup_future_usage
    # Connect, invoices, Radar reviews and automatic payment methods are not modelled.
    body["application"] = None
    body["application_fee_amount"] = None
    body["automatic_payment_methods"] = None
    body["invoice"] = None
    body["on_behalf_of"] = None
    body["processing"] = None
    body["review"] = None
    body["transfer_data"] = None
    body["transfer_group"] = None
    if view.version.latest_charge:
        body["amount_details"] = {"tip": {}}
        body["customer_account"] = None
        body["excluded_payment_method_types"] = None
        body["managed_payments"] = None
        body["payment_method_configuration_details"] = None
        body["source"] = None
    return body


def charge_list(pi: PaymentIntent, view: View) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [charge(c, pi, view) for c in reversed(pi.charges)],
        "has_more": False,
        "total_count": len(pi.charges),
        "url": f"/v1/charges?payment_intent={pi.id}",
    }


def charge(c: Charge, pi: PaymentIntent, view: View) -> dict[str, Any]:
    """Stripe's Charge, every property of the 2020-08-27 object present."""
    method = view.methods(c.payment_method)
    details: dict[str, Any] = {}
    if c.payment_method_type == "card":
        details = dict(payment_method_objects.card_details(method)) if method else {}
        # Stripe reports the end of an open authorization on the card details (a multicapture
        # hold stays open after its first capture).
        open_hold = c.status == "succeeded" and (
            not c.captured or (pi.status is Status.REQUIRES_CAPTURE and c is pi.latest_charge)
        )
        details.update(
            {
                "installments": None,
                "mandate": None,
                "network": details.get("brand"),
                "three_d_secure": None,
                "capture_before": pi.capture_before_at if open_hold else None,
                **acquiring(c),
            }
        )
        details.setdefault("exp_month", payment_method_objects.TEST_CARD_EXPIRY[0])
        details.setdefault("exp_year", payment_method_objects.TEST_CARD_EXPIRY[1])
    body: dict[str, Any] = {
        "id": c.id,
        "object": "charge",
        "amount": c.amount,
        "amount_captured": c.amount_captured,
        "amount_refunded": c.amount_refunded,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": None,
        "billing_details": payment_method_objects.no_billing_details(),
        "calculated_statement_descriptor": pi.statement_descriptor,
        "captured": c.captured,
        "created": c.created,
        "currency": pi.currency,
        "customer": pi.customer,
        "description": pi.description,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": c.failure_code,
        "failure_message": c.failure_message,
        "fraud_details": {},
        "invoice": None,
        "livemode": pi.livemode,
        "metadata": dict(pi.metadata),
        "on_behalf_of": None,
        "order": None,
        "outcome": outcome(c),
        "paid": c.status == "succeeded",
        "payment_intent": pi.id,
        "payment_method": c.payment_method,
        "payment_method_details": {"type": c.payment_method_type, c.payment_method_type: details},
        "receipt_email": pi.receipt_email,
        "receipt_number": None,
        # No receipt is sent by a stand-in, so there is no page to link to.
        "receipt_url": None,
        "refunded": c.refunded,
        "refunds": refund_list(c, pi, view),
        "review": None,
        "shipping": shipping(pi.shipping),
        "source": None,
        "source_transfer": None,
        "statement_descriptor": pi.statement_descriptor,
        "statement_descriptor_suffix": pi.statement_descriptor_suffix,
        "status": c.status,
        "transfer_data": None,
        "transfer_group": None,
    }
    return body


#: How Stripe words each flexible-acquiring grant on the card details: extended authorization
#: says ``enabled`` / ``disabled`` where the other three say ``available`` / ``unavailable``.
_EXTENDED = {Grant.AVAILABLE: "enabled", Grant.UNAVAILABLE: "disabled"}


def acquiring(c: Charge) -> dict[str, Any]:
    """What the hold was granted of the features its intent requested (only those requested)."""
    body: dict[str, Any] = {}
    if c.multicapture is not None:
        body["multicapture"] = {"status": c.multicapture.value}
    if c.overcapture is not None:
        body["overcapture"] = {
            "maximum_amount_capturable": c.maximum_amount_capturable or c.amount,
            "status": c.overcapture.value,
        }
    if c.incremental_authorization is not None:
        body["incremental_authorization"] = {"status": c.incremental_authorization.value}
    if c.extended_authorization is not None:
        body["extended_authorization"] = {"status": _EXTENDED[c.extended_authorization]}
    return body


#: The refunds a charge of 2020-08-27 embeds, newest first (Stripe's "10 most recent").
EMBEDDED_REFUNDS = 10


def refund_list(c: Charge, pi: PaymentIntent, view: View) -> dict[str, Any]:
    """The charge's ``refunds`` list object, its ten newest refunds.

    Stripe's changelog says a charge stops expanding its refunds from 2022-11-15, yet Stripe's own
    fixture of the newer charge (the schema copy the wire tests read) still carries ``refunds``;
    every version carries it here, so no reader meets a missing key."""
    own = [r for r in reversed(pi.refunds) if r.charge == c.id]
    return {
        "object": "list",
        "data": [refund(r, pi, view) for r in own[:EMBEDDED_REFUNDS]],
        "has_more": len(own) > EMBEDDED_REFUNDS,
        "total_count": len(own),
        "url": f"/v1/charges/{c.id}/refunds",
    }


def refund(r: Refund, pi: PaymentIntent, view: View) -> dict[str, Any]:
    """Stripe's Refund: the properties its object always carries, then those of a failed or
    pending refund, and from 2022-11-15 where the money goes back to."""
    body: dict[str, Any] = {
        "id": r.id,
        "object": "refund",
        "amount": r.amount,
        "balance_transaction": None,
        "charge": r.charge,
        "created": r.created,
        "currency": r.currency,
        "metadata": dict(r.metadata),
        "payment_intent": r.payment_intent,
        "reason": r.reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": r.status.value,
        "transfer_reversal": None,
    }
    if r.description is not None:  # Stripe's is optional (non-card refunds)
        body["description"] = r.description
    if r.status is RefundStatus.FAILED:
        body["failure_balance_transaction"] = None
        body["failure_reason"] = r.failure_reason
    if view.version.latest_charge:
        if r.status is RefundStatus.PENDING:
            body["pending_reason"] = "processing"
        kind = next((c.payment_method_type for c in pi.charges if c.id == r.charge), "card")
        # No acquirer reference number exists for a refund no network carried.
        destination = (
            {"reference": None, "reference_status": "unavailable", "reference_type": None,
             "type": "refund"}
            if kind == "card"
            else {}
        )  # fmt: skip
        body["destination_details"] = {"type": kind, kind: destination}
    return body


def outcome(c: Charge) -> dict[str, Any] | None:
    if c.status == "pending":
        return None
    if c.status == "succeeded":
        return {
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    return {
        "network_status": "declined_by_network",
        "reason": c.decline_code or c.failure_code,
        "risk_level": "normal",
        "seller_message": "The bank did not return any further details with this decline.",
        "type": "issuer_declined",
    }


def payment_error(
    error: PaymentError | None, pi: PaymentIntent | None, view: View
) -> dict[str, Any] | None:
    """``last_payment_error``: Stripe's error object with the full payment method that failed,
    and the charge that recorded the failure when there was one."""
    if error is None:
        return None
    body: dict[str, Any] = {"type": error.type, "code": error.code}
    if error.decline_code is not None:
        body["decline_code"] = error.decline_code
    body["doc_url"] = DOC_URL + error.code.replace("_", "-")
    body["message"] = error.message
    if pi is not None:
        latest = pi.latest_charge
        if latest is not None and latest.status == "failed":
            body["charge"] = latest.id
    if error.payment_method is not None:
        livemode = pi.livemode if pi is not None else False
        method = view.payment_method(error.payment_method, livemode=livemode)
        body["payment_method"] = method
        body["payment_method_type"] = method["type"]
    return body


def next_action(action: NextAction | None) -> dict[str, Any] | None:
    if action is None:
        return None
    return {
        "type": "redirect_to_url",
        "redirect_to_url": {"url": action.redirect_url, "return_url": action.return_url},
    }


def method_options(options: PaymentMethodOptions, pi: PaymentIntent) -> dict[str, Any]:
    """Stripe's per-type options: for a card, its defaults, and ``capture_method`` when the card
    is captured by hand (Stripe's only value there); the PayRex card restrictions when set."""
    if "card" not in pi.payment_method_types and options.card is None:
        return {}
    card: dict[str, Any] = {
        "installments": None,
        "mandate_options": None,
        "network": None,
        "request_three_d_secure": "automatic",
    }
    chosen = options.card
    if chosen is not None:
        if chosen.capture_type is not None and chosen.capture_type.value == "manual":
            card["capture_method"] = "manual"
        if chosen.allowed_bins is not None:
            card["allowed_bins"] = list(chosen.allowed_bins)
        if chosen.allowed_funding is not None:
            card["allowed_funding"] = list(chosen.allowed_funding)
    return {"card": card}


def shipping(value: Shipping | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {
        "address": value.address.model_dump(),
        "carrier": value.carrier,
        "name": value.name,
        "phone": value.phone,
        "tracking_number": value.tracking_number,
    }


# -- events and errors ---------------------------------------------------------------------------


def event(e: Event, data: dict[str, Any], previous: dict[str, Any], view: View) -> dict[str, Any]:
    """Stripe's Event: ``data.object`` as of the event, in the version the caller asked for."""
    body: dict[str, Any] = {
        "id": e.id,
        "object": "event",
        "api_version": view.version.reported,
        "created": e.created,
        "data": {"object": data, "previous_attributes": previous},
        "livemode": e.data.livemode,
        "pending_webhooks": 0,
        "request": {"id": None, "idempotency_key": None},
        "type": e.type,
    }
    return body


def error(err: PaymentIntentError, view: View, render: Callable[[PaymentIntent], Any]) -> Any:
    """Stripe's error body. ``param`` is left out when no parameter is to blame, as Stripe does;
    a 401 is an ``invalid_request_error`` with a message only, as Stripe's is."""
    if isinstance(err, AuthenticationError):
        return {"error": {"message": err.message, "type": "invalid_request_error"}}
    body: dict[str, Any] = {"type": err.type, "code": err.code, "message": err.message}
    if err.param is not None:
        body["param"] = err.param
    if err.decline_code is not None:
        body["decline_code"] = err.decline_code
    body["doc_url"] = DOC_URL + err.code.replace("_", "-")
    pi = err.payment_intent
    if pi is not None:
        body["payment_intent"] = render(pi)
        if err.type == "card_error" and pi.last_payment_error is not None:
            failed = payment_error(pi.last_payment_error, pi, view)
            assert failed is not None
            for key in ("charge", "payment_method"):
                if key in failed:
                    body[key] = failed[key]
    return {"error": body}
