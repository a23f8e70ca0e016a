"""PayRex on the wire: the shapes of the PayRex seed document.

``resource`` instead of ``object``, ``created_at`` / ``updated_at``, upper-case currencies, the
``awaiting_*`` status names, ``payment_methods`` and ``payment_method_id``, ``latest_payment``,
``next_action`` of type ``redirect``, and the error body ``{"errors": [{code, detail, parameter}]}``
whose codes are PayRex's own (``parameter_required``, ``parameter_below_minimum``,
``resource_not_found``…). Decisions where the seed is silent are listed in ``docs/http.md``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from payment_intent.dialects import payrex_money
from payment_intent.dialects.base import Dialect, Route, routes_for
from payment_intent.dialects.forms import Spec, form_spec
from payment_intent.domain.errors import PaymentIntentError, parameter_invalid
from payment_intent.domain.model import (
    ClientPaymentIntent,
    Event,
    NextAction,
    PaymentError,
    PaymentIntent,
)
from payment_intent.domain.profiles import PAYREX
from payment_intent.domain.status import EventType, Status
from payment_intent.service import Page

if TYPE_CHECKING:
    from payment_intent.service import PaymentIntents

#: Canonical status → PayRex status. Two canonical statuses share ``awaiting_payment_method``.
STATUSES: dict[Status, str] = {
    Status.REQUIRES_PAYMENT_METHOD: "awaiting_payment_method",
    Status.REQUIRES_CONFIRMATION: "awaiting_payment_method",
    Status.REQUIRES_ACTION: "awaiting_next_action",
    Status.PROCESSING: "processing",
    Status.REQUIRES_CAPTURE: "awaiting_capture",
    Status.SUCCEEDED: "succeeded",
    Status.CANCELED: "canceled",
}

#: Canonical event type → PayRex event type, where PayRex names it differently.
EVENT_TYPES: dict[str, str] = {
    EventType.AMOUNT_CAPTURABLE_UPDATED.value: "payment_intent.awaiting_capture",
    EventType.CHARGE_REFUNDED.value: "payment.refunded",
}

#: Canonical error code → PayRex error code. Codes PayRex has no word for pass through.
ERROR_CODES: dict[str, str] = {
    "parameter_missing": "parameter_required",
    "parameter_unknown": "parameter_invalid",
    "parameter_invalid": "parameter_invalid",
    "parameter_invalid_integer": "parameter_invalid",
    "amount_too_small": "parameter_below_minimum",
    "amount_too_large": "parameter_above_maximum",
    "resource_missing": "resource_not_found",
    "api_key_missing": "authentication_invalid",
    "api_key_invalid": "authentication_invalid",
    "secret_key_required": "authentication_invalid",
}

#: How form strings are read on PayRex's refund route, whose request is its own.
_REFUND_FORM: dict[str, Spec] = form_spec(payrex_money.RefundRequest)


class PayRex(Dialect):
    """The PayRex dialect, served at the root (``/payment_intents``)."""

    name = "payrex"
    prefix = ""
    profile = PAYREX
    routes: ClassVar[tuple[Route, ...]] = routes_for("payrex")
    renames: ClassVar[Mapping[str, Mapping[str, str]]] = {
        "*": {
            "payment_methods": "payment_method_types",
            "payment_method_id": "payment_method",
            "customer_id": "customer",
        },
        "capture": {"amount": "amount_to_capture"},
        # A Payment's id names its intent (payrex_money).
        "refund": {"payment_id": "payment_intent"},
        # The browser step of the test helpers takes either spelling.
        "attach": {"payment_method": "payment_method"},
    }
    #: Stripe's parameters that CasaPay takes and PayRex's API does not have.
    unspoken: ClassVar[Mapping[str, frozenset[str]]] = {
        "*": frozenset(
            {
                "error_on_requires_action",
                "off_session",
                "payment_method_data",
                "receipt_email",
                "setup_future_usage",
                "shipping",
                "statement_descriptor_suffix",
            }
        ),
        # PayRex captures a hold once: no multicapture.
        "capture": frozenset({"metadata", "final_capture"}),
    }

    def credentials(self, headers: Mapping[str, str]) -> str | None:
        """HTTP Basic with the secret key as the user name and an empty password."""
        scheme, _, token = headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return None
        user, _, _ = decoded.partition(":")
        return user or None

    def accepted(self, operation: str) -> frozenset[str]:
        return payrex_money.ACCEPTED.get(operation) or super().accepted(operation)

    def form_types(self, operation: str) -> dict[str, Spec]:
        return _REFUND_FORM if operation == "refund" else super().form_types(operation)

    def answer(
        self,
        operation: str,
        service: PaymentIntents,
        object_id: str,
        params: dict[str, Any],
        idempotency_key: str | None = None,
    ) -> dict[str, Any] | None:
        """Refunds and payments, answered by the ``payrex_money`` module."""
        return payrex_money.answer(operation, service, object_id, params, idempotency_key)

    def status_filter(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if value == "awaiting_payment_method":
            raise parameter_invalid(
                "status",
                "Listing by status awaiting_payment_method is not supported; list without a "
                "status filter instead.",
            )
        for canonical, wire in STATUSES.items():
            if wire == value:
                return canonical.value
        raise parameter_invalid(
            "status",
            "Invalid status: must be one of awaiting_next_action, processing, awaiting_capture, "
            "succeeded, canceled.",
        )

    # -- objects ---------------------------------------------------------------------------------

    def render_intent(self, intent: PaymentIntent) -> dict[str, Any]:
        card = intent.payment_method_options.card
        capture_type = (
            card.capture_type
            if card is not None and card.capture_type is not None
            else intent.capture_method
        )
        card_options: dict[str, Any] = {"capture_type": capture_type.value}
        if card is not None and card.allowed_bins is not None:
            card_options["allowed_bins"] = list(card.allowed_bins)
        if card is not None and card.allowed_funding is not None:
            card_options["allowed_funding"] = list(card.allowed_funding)
        # The seed document's fields, in its order, then the attributes it lists beside them.
        return {
            "id": intent.id,
            "resource": "payment_intent",
            "amount": intent.amount,
            "amount_received": intent.amount_received,
            "amount_capturable": intent.amount_capturable,
            "client_secret": intent.client_secret,
            "currency": intent.currency.upper(),
            "description": intent.description or "",
            "last_payment_error": _payment_error(intent.last_payment_error),
            "latest_payment": self._latest_payment(intent),
            "livemode": intent.livemode,
            "metadata": dict(intent.metadata) or None,
            "next_action": _next_action(intent.next_action),
            "payment_method_options": {"card": card_options},
            "payment_methods": list(intent.payment_method_types),
            "statement_descriptor": intent.statement_descriptor,
            "status": STATUSES[intent.status],
            "capture_before_at": intent.capture_before_at,
            "customer": _customer(intent.customer),
            "created_at": intent.created,
            "updated_at": intent.updated_at,
            "payment_method_id": intent.payment_method,
            "return_url": intent.return_url,
        }

    def render_client_intent(self, intent: ClientPaymentIntent) -> dict[str, Any]:
        return {
            "id": intent.id,
            "resource": "payment_intent",
            "amount": intent.amount,
            "client_secret": intent.client_secret,
            "currency": intent.currency.upper(),
            "description": intent.description or "",
            "last_payment_error": _payment_error(intent.last_payment_error),
            "livemode": intent.livemode,
            "next_action": _next_action(intent.next_action),
            "payment_methods": list(intent.payment_method_types),
            "status": STATUSES[intent.status],
            "created_at": intent.created,
            "payment_method_id": intent.payment_method,
            "return_url": intent.return_url,
        }

    def render_list(self, page: Page[PaymentIntent], url: str) -> dict[str, Any]:
        return _list([self.render_intent(intent) for intent in page], page.has_more)

    def render_event(self, event: Event) -> dict[str, Any]:
        """An event carries the resource it is about: a refund's events their Refund, and
        ``payment.refunded`` the Payment, as PayRex's do; every other event the intent."""
        if event.refund is not None:
            data, previous = payrex_money.event_data(event)
        else:
            data, previous = self.render_intent(event.data), self.previous_attributes(event)
        return {
            "id": event.id,
            "resource": "event",
            "type": EVENT_TYPES.get(event.type, event.type),
            "data": data,
            "previous_attributes": previous,
            "livemode": event.data.livemode,
            "created_at": event.created,
            "updated_at": event.created,
        }

    def render_events(self, page: Page[Event], url: str) -> dict[str, Any]:
        return _list([self.render_event(event) for event in page], page.has_more)

    def render_clock(self, now: int) -> dict[str, Any]:
        return {"resource": "test_clock", "frozen_time": now}

    def render_error(self, error: PaymentIntentError) -> dict[str, Any]:
        return {
            "errors": [
                {
                    "code": ERROR_CODES.get(error.code, error.code),
                    "detail": error.message,
                    "parameter": error.param,
                }
            ]
        }

    # -- parts -----------------------------------------------------------------------------------

    def _latest_payment(self, intent: PaymentIntent) -> dict[str, Any] | None:
        """The latest *complete* attempt: a payment still pending is not reported yet."""
        for charge in reversed(intent.charges):
            if charge.status != "pending":
                return payrex_money.render_payment(charge, intent)
        return None


def _payment_error(error: PaymentError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"code": error.code, "detail": error.message}


def _next_action(action: NextAction | None) -> dict[str, Any] | None:
    if action is None:
        return None
    return {"type": "redirect", "redirect_url": action.redirect_url}


def _customer(customer: str | None) -> dict[str, Any] | None:
    return {"id": customer, "resource": "customer"} if customer is not None else None


def _list(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    """PayRex's list resource."""
    return {"resource": "list", "data": data, "has_more": has_more}
