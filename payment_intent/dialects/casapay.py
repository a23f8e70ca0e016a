"""CasaPay on the wire: Stripe's shapes, as the CasaPay seed document shows them.

Decisions where the seed is silent follow what a Stripe user (and the ``stripe`` SDK) expects; they
are listed in ``docs/http.md``. In short: ``object`` keys, ``created`` timestamps, lower-case
currencies, canonical status names, ``charges`` as a list object, ``next_action`` of type
``redirect_to_url``, and the error body ``{"error": {type, code, message, param, ...}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from payment_intent.dialects.base import Dialect, Route, routes_for
from payment_intent.domain.errors import PaymentIntentError, parameter_invalid
from payment_intent.domain.model import (
    Charge,
    ClientPaymentIntent,
    Event,
    NextAction,
    PaymentError,
    PaymentIntent,
    PaymentMethodOptions,
)
from payment_intent.domain.profiles import CASAPAY
from payment_intent.service import Page


class CasaPay(Dialect):
    """The CasaPay (Stripe-shaped) dialect, served under ``/v1``."""

    name = "casapay"
    prefix = "/v1"
    profile = CASAPAY
    routes: ClassVar[tuple[Route, ...]] = routes_for("casapay")
    renames: ClassVar[Mapping[str, Mapping[str, str]]] = {}

    def credentials(self, headers: Mapping[str, str]) -> str | None:
        scheme, _, token = headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer":
            return None
        return token.strip() or None

    def nested_to_canonical(self, name: str, value: Any) -> Any:
        # Stripe's per-method override is payment_method_options[card][capture_method].
        if name == "payment_method_options" and isinstance(value, dict):
            card = value.get("card")
            if isinstance(card, dict) and "capture_method" in card:
                if "capture_type" in card:
                    raise parameter_invalid(
                        "payment_method_options[card][capture_method]",
                        "Give payment_method_options[card][capture_method] only once "
                        "(capture_type is its PayRex spelling).",
                    )
                card = {
                    ("capture_type" if k == "capture_method" else k): v for k, v in card.items()
                }
                return {**value, "card": card}
        return value

    def wire_param(self, param: str, operation: str) -> str:
        return param.replace("[card][capture_type]", "[card][capture_method]")

    # -- objects ---------------------------------------------------------------------------------

    def render_intent(self, intent: PaymentIntent) -> dict[str, Any]:
        latest = intent.latest_charge
        return {
            # The seed document's fields, in its order.
            "id": intent.id,
            "object": "payment_intent",
            "amount": intent.amount,
            "currency": intent.currency,
            "status": intent.status.value,
            "customer": intent.customer,
            "payment_method": intent.payment_method,
            "payment_method_types": list(intent.payment_method_types),
            "description": intent.description,
            "client_secret": intent.client_secret,
            "capture_method": intent.capture_method.value,
            "amount_received": intent.amount_received,
            "metadata": dict(intent.metadata),
            "created": intent.created,
            "livemode": intent.livemode,
            # The seed's attribute table, then what a Stripe user expects beside it.
            "confirmation_method": intent.confirmation_method.value,
            "charges": self._charges(intent),
            "last_payment_error": self._payment_error(intent.last_payment_error, intent),
            "next_action": _next_action(intent.next_action),
            "amount_capturable": intent.amount_capturable,
            "capture_before_at": intent.capture_before_at,
            "canceled_at": intent.canceled_at,
            "cancellation_reason": (
                intent.cancellation_reason.value if intent.cancellation_reason else None
            ),
            "latest_charge": latest.id if latest else None,
            "payment_method_options": _options(intent.payment_method_options),
            "statement_descriptor": intent.statement_descriptor,
        }

    def render_client_intent(self, intent: ClientPaymentIntent) -> dict[str, Any]:
        return {
            "id": intent.id,
            "object": "payment_intent",
            "amount": intent.amount,
            "currency": intent.currency,
            "status": intent.status.value,
            "payment_method": intent.payment_method,
            "payment_method_types": list(intent.payment_method_types),
            "description": intent.description,
            "client_secret": intent.client_secret,
            "capture_method": intent.capture_method.value,
            "confirmation_method": intent.confirmation_method.value,
            "created": intent.created,
            "livemode": intent.livemode,
            "last_payment_error": self._payment_error(intent.last_payment_error, None),
            "next_action": _next_action(intent.next_action),
            "canceled_at": intent.canceled_at,
            "cancellation_reason": (
                intent.cancellation_reason.value if intent.cancellation_reason else None
            ),
        }

    def render_list(self, page: Page[PaymentIntent], url: str) -> dict[str, Any]:
        return _list([self.render_intent(intent) for intent in page], page.has_more, url)

    def render_event(self, event: Event) -> dict[str, Any]:
        return {
            "id": event.id,
            "object": "event",
            "type": event.type,
            "created": event.created,
            "livemode": event.data.livemode,
            "data": {
                "object": self.render_intent(event.data),
                "previous_attributes": self.previous_attributes(event),
            },
        }

    def render_events(self, page: Page[Event], url: str) -> dict[str, Any]:
        return _list([self.render_event(event) for event in page], page.has_more, url)

    def render_clock(self, now: int) -> dict[str, Any]:
        return {"object": "test_helpers.clock", "frozen_time": now}

    def render_error(self, error: PaymentIntentError) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": error.type,
            "code": error.code,
            "message": error.message,
            "param": error.param,
        }
        if error.decline_code is not None:
            body["decline_code"] = error.decline_code
        if error.payment_intent is not None:
            body["payment_intent"] = self.render_intent(error.payment_intent)
        return {"error": body}

    # -- parts -----------------------------------------------------------------------------------

    def _charges(self, intent: PaymentIntent) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [self._charge(charge, intent) for charge in reversed(intent.charges)],
            "has_more": False,
            "total_count": len(intent.charges),
            "url": f"/v1/charges?payment_intent={intent.id}",
        }

    def _charge(self, charge: Charge, intent: PaymentIntent) -> dict[str, Any]:
        details: dict[str, Any] = {}
        if charge.payment_method_type == "card":
            # Stripe reports the end of an uncaptured authorization on the card details.
            holding = not charge.captured and charge.status == "succeeded"
            details = {"capture_before": intent.capture_before_at if holding else None}
        return {
            "id": charge.id,
            "object": "charge",
            "amount": charge.amount,
            "amount_captured": charge.amount_captured,
            "amount_refunded": charge.amount_refunded,
            "captured": charge.captured,
            "created": charge.created,
            "currency": intent.currency,
            "failure_code": charge.failure_code,
            "failure_message": charge.failure_message,
            "livemode": intent.livemode,
            "outcome": _outcome(charge),
            "paid": charge.status == "succeeded",
            "payment_intent": intent.id,
            "payment_method": charge.payment_method,
            "payment_method_details": {
                "type": charge.payment_method_type,
                charge.payment_method_type: details,
            },
            "refunded": charge.amount_refunded > 0 and charge.amount_refunded == charge.amount,
            "status": charge.status,
        }

    def _payment_error(
        self, error: PaymentError | None, intent: PaymentIntent | None
    ) -> dict[str, Any] | None:
        if error is None:
            return None
        method: dict[str, Any] | None = None
        if error.payment_method is not None:
            method = {"id": error.payment_method, "object": "payment_method"}
            charges = intent.charges if intent is not None else ()
            for charge in reversed(charges):
                if charge.payment_method == error.payment_method:
                    method["type"] = charge.payment_method_type
                    break
        body: dict[str, Any] = {"type": error.type, "code": error.code, "message": error.message}
        if error.decline_code is not None:
            body["decline_code"] = error.decline_code
        body["payment_method"] = method
        return body


def _next_action(action: NextAction | None) -> dict[str, Any] | None:
    if action is None:
        return None
    return {
        "type": "redirect_to_url",
        "redirect_to_url": {"url": action.redirect_url, "return_url": action.return_url},
    }


def _options(options: PaymentMethodOptions) -> dict[str, Any]:
    card = options.card
    if card is None:
        return {}
    rendered: dict[str, Any] = {}
    if card.capture_type is not None:
        rendered["capture_method"] = card.capture_type.value
    if card.allowed_bins is not None:
        rendered["allowed_bins"] = list(card.allowed_bins)
    if card.allowed_funding is not None:
        rendered["allowed_funding"] = list(card.allowed_funding)
    return {"card": rendered}


def _outcome(charge: Charge) -> dict[str, Any] | None:
    if charge.status == "pending":
        return None
    if charge.status == "succeeded":
        return {"type": "authorized", "reason": None}
    return {"type": "issuer_declined", "reason": charge.decline_code or charge.failure_code}


def _list(data: list[dict[str, Any]], has_more: bool, url: str) -> dict[str, Any]:
    """Stripe's list object."""
    return {"object": "list", "data": data, "has_more": has_more, "url": url}
