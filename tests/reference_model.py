"""A small reference model of a PaymentIntent, written from SPEC sections 2, 3, 9 and 10 alone.

It shares no code with the implementation: it knows the test payment methods by name, the
statuses as strings and the profile rules as a few numbers. The stateful test runs it beside the
service and compares status, amounts, versions and events after every step.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

WEEK = 7 * 24 * 3600
MONTH = 30 * 24 * 3600  # an extended authorization's window

PM_TYPE = {
    "pm_card_visa": "card",
    "pm_card_mastercard": "card",
    "pm_card_visa_debit": "card",
    "pm_card_threeDSecure2Required": "card",
    "pm_card_authenticationRequired": "card",
    "pm_card_visa_chargeDeclined": "card",
    "pm_card_visa_chargeDeclinedInsufficientFunds": "card",
    "pm_card_visa_chargeDeclinedExpiredCard": "card",
    "pm_card_threeDSecureRequiredChargeDeclined": "card",
    "pm_card_refundFail": "card",
    "pm_card_incrementDeclined": "card",
    "pm_open_banking": "open_banking",
    "pm_direct_debit": "direct_debit",
    "pm_gcash": "gcash",
    "pm_maya": "maya",
    "pm_qrph": "qrph",
}
REDIRECT_FIRST = {
    "pm_card_threeDSecure2Required",
    "pm_card_authenticationRequired",
    "pm_card_threeDSecureRequiredChargeDeclined",
    "pm_gcash",
    "pm_maya",
    "pm_qrph",
}
DECLINE_CODE = {
    "pm_card_visa_chargeDeclined": "card_declined",
    "pm_card_visa_chargeDeclinedInsufficientFunds": "card_declined",
    "pm_card_visa_chargeDeclinedExpiredCard": "expired_card",
    "pm_card_threeDSecureRequiredChargeDeclined": "card_declined",
}
ASYNC = {"pm_open_banking", "pm_direct_debit"}
#: Cards granted flexible acquiring when asked: the credit cards of the test set (not the debit).
CREDIT = {pm for pm, kind in PM_TYPE.items() if kind == "card"} - {"pm_card_visa_debit"}
#: Refund reasons by profile (others are malformed, refused before the intent is read).
REFUND_REASONS = {
    "casapay": {"duplicate", "fraudulent", "requested_by_customer"},
    "payrex": {
        "fraudulent",
        "requested_by_customer",
        "product_out_of_stock",
        "service_not_provided",
        "product_was_damaged",
        "service_misaligned",
        "wrong_product_received",
        "others",
    },
}

ATTEMPTABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
CANCELABLE = {
    "casapay": (*ATTEMPTABLE, "requires_capture"),
    "payrex": ("requires_payment_method", "requires_confirmation"),
}
CAPTURE_MINIMUM = {"casapay": 1, "payrex": 2000}


class Refused(Exception):
    """The model expects the operation to fail with this error code, changing nothing."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Ref:
    """What the model knows of one intent."""

    amount: int
    types: tuple[str, ...]
    manual: bool  # casapay: capture_method; payrex: the card option
    manual_confirmation: bool
    status: str = "requires_payment_method"
    payment_method: str | None = None
    capturable: int = 0
    received: int = 0
    capture_before_at: int | None = None
    reason: str | None = None
    has_error: bool = False
    authenticated: str | None = None
    version: int = 1
    events: list[str] = field(default_factory=list)
    requested: dict[str, str] = field(default_factory=dict)  # feature -> if_available / never
    granted: frozenset[str] = frozenset()
    captures: int = 0
    increments: int = 0
    refunds: dict[str, list[Any]] = field(default_factory=dict)  # id -> [amount, status]

    @property
    def refunded(self) -> int:
        """Refunds that send money back or are on their way."""
        return sum(a for a, status in self.refunds.values() if status in ("pending", "succeeded"))


class Model:
    """The reference model of every intent the machine created."""

    def __init__(self, profile: str) -> None:
        self.profile = profile
        self.reasons = REFUND_REASONS[profile]
        self.intents: dict[str, Ref] = {}

    # -- helpers --------------------------------------------------------------------------------

    def _manual_for(self, ref: Ref, pm: str) -> bool:
        if self.profile == "payrex":
            return ref.manual and PM_TYPE[pm] == "card"
        return ref.manual

    def expire_due(self, ref: Ref, now: int) -> None:
        due = ref.capture_before_at
        if ref.status == "requires_capture" and due is not None and now >= due:
            self._release(ref, "automatic")
            ref.version += 1

    @staticmethod
    def _release(ref: Ref, reason: str | None) -> None:
        """A hold ends: with something captured it has succeeded, with nothing it is canceled."""
        ref.capturable = 0
        if ref.captures > 0:
            ref.status = "succeeded"
            ref.events.append("payment_intent.succeeded")
        else:
            ref.status, ref.reason = "canceled", reason
            ref.events.append("payment_intent.canceled")

    @staticmethod
    def as_of(ref: Ref, now: int) -> Ref:
        """What a read shows at ``now``: a lapsed hold has ended, though nothing has stored its
        expiry (or emitted its event) yet."""
        due = ref.capture_before_at
        if ref.status == "requires_capture" and due is not None and now >= due:
            if ref.captures > 0:
                return replace(ref, status="succeeded", capturable=0, version=ref.version + 1)
            return replace(
                ref, status="canceled", reason="automatic", capturable=0, version=ref.version + 1
            )
        return ref

    def expire_all(self, now: int) -> None:
        for ref in self.intents.values():
            self.expire_due(ref, now)

    def _check_method(self, ref: Ref, pm: str) -> None:
        if pm not in PM_TYPE:
            raise Refused("resource_missing")
        if PM_TYPE[pm] not in ref.types:
            raise Refused("parameter_invalid")

    def _outcome(self, ref: Ref, pm: str, now: int, *, declined: str | None) -> str | None:
        """Apply the final outcome of an attempt with ``pm``; returns the decline code if any."""
        if declined is not None or pm in DECLINE_CODE:
            ref.status, ref.payment_method, ref.has_error = "requires_payment_method", None, True
            ref.authenticated = None
            ref.events.append("payment_intent.payment_failed")
            return declined or DECLINE_CODE[pm]
        if pm in ASYNC and ref.status != "processing":
            ref.status = "processing"
            ref.events.append("payment_intent.processing")
            return None
        ref.has_error, ref.authenticated = False, None
        if self._manual_for(ref, pm):
            ref.status, ref.capturable = "requires_capture", ref.amount
            asked = {f for f, how in ref.requested.items() if how == "if_available"}
            ref.granted = frozenset(asked if pm in CREDIT else ())
            window = MONTH if "extended_authorization" in ref.granted else WEEK
            ref.capture_before_at = now + window
            ref.events.append("payment_intent.amount_capturable_updated")
        else:
            ref.status, ref.received = "succeeded", ref.amount
            ref.events.append("payment_intent.succeeded")
        return None

    # -- operations -----------------------------------------------------------------------------

    def create(self, params: dict[str, Any], now: int) -> tuple[Ref, str | None]:
        types = tuple(params.get("payment_method_types") or ("card",))
        if self.profile == "payrex":
            card = (params.get("payment_method_options") or {}).get("card") or {}
            manual = card.get("capture_type") == "manual"
        else:
            manual = params.get("capture_method") == "manual"
        ref = Ref(
            amount=params["amount"],
            types=types,
            manual=manual,
            manual_confirmation=params.get("confirmation_method") == "manual",
        )
        card = (params.get("payment_method_options") or {}).get("card") or {}
        ref.requested = {
            name.removeprefix("request_"): how
            for name, how in card.items()
            if name.startswith("request_")
        }
        ref.events.append("payment_intent.created")
        pm = params.get("payment_method")
        if pm is not None:
            self._check_method(ref, pm)
            ref.status, ref.payment_method = "requires_confirmation", pm
        declined = None
        if params.get("confirm"):
            ref.version = 0
            declined = self._confirm(ref, pm, now)
        return ref, declined

    def _confirm(self, ref: Ref, pm: str | None, now: int) -> str | None:
        if ref.status not in ATTEMPTABLE:
            raise Refused("payment_intent_unexpected_state")
        method = pm or ref.payment_method
        if method is None:
            raise Refused("payment_intent_unexpected_state")
        self._check_method(ref, method)
        if self._manual_for(ref, method) and PM_TYPE[method] != "card":
            raise Refused("parameter_invalid")
        ref.payment_method = method
        ref.version += 1
        if method in REDIRECT_FIRST and ref.authenticated != method:
            ref.status = "requires_action"
            ref.events.append("payment_intent.requires_action")
            return None
        return self._outcome(ref, method, now, declined=None)

    def confirm(self, ref: Ref, pm: str | None, now: int) -> str | None:
        trial = _copy(ref)
        declined = self._confirm(trial, pm, now)
        _assign(ref, trial)
        return declined

    def complete_action(self, ref: Ref, succeed: bool, now: int) -> None:
        if ref.status != "requires_action":
            raise Refused("payment_intent_unexpected_state")
        ref.version += 1
        assert ref.payment_method is not None
        if not succeed:
            self._outcome(
                ref, ref.payment_method, now, declined="payment_intent_authentication_failure"
            )
        elif ref.manual_confirmation:
            ref.status, ref.authenticated = "requires_confirmation", ref.payment_method
        else:
            self._outcome(ref, ref.payment_method, now, declined=None)

    def settle(self, ref: Ref, succeed: bool, now: int) -> None:
        if ref.status != "processing":
            raise Refused("payment_intent_unexpected_state")
        ref.version += 1
        assert ref.payment_method is not None
        self._outcome(ref, ref.payment_method, now, declined=None if succeed else "failed")

    def capture(self, ref: Ref, amount: int | None, final: bool = True) -> None:
        if ref.status != "requires_capture":
            raise Refused("payment_intent_unexpected_state")
        if not final and "multicapture" not in ref.granted:
            raise Refused("parameter_invalid")
        if ref.captures >= 50:
            raise Refused("payment_intent_unexpected_state")
        if amount is None:
            if self.profile == "payrex":
                raise Refused("parameter_missing")
            amount = ref.capturable
        if amount < CAPTURE_MINIMUM[self.profile]:
            raise Refused("amount_too_small")
        # An overcapture takes up to a fifth more, in one final capture of an untouched hold.
        over = final and ref.captures == 0 and "overcapture" in ref.granted
        if amount > (ref.amount + ref.amount // 5 if over else ref.capturable):
            raise Refused("amount_too_large")
        final = final or amount >= ref.capturable
        ref.received += amount
        ref.captures += 1
        ref.version += 1
        if final:
            ref.status, ref.capturable = "succeeded", 0
            ref.events.append("payment_intent.succeeded")
        else:
            ref.capturable -= amount
            ref.events.append("payment_intent.amount_capturable_updated")

    def check_params(self, operation: str, params: dict[str, Any]) -> None:
        """Refuse what is malformed whatever the intent, before the intent is even read (so a
        lapsed hold is not expired by such a request)."""
        amount = params.get("amount")
        amounted = operation in ("increment_authorization", "refund")
        if amounted and amount is not None and amount <= 0:
            raise Refused("amount_too_small")
        reason = params.get("reason")
        if operation == "refund" and reason is not None and reason not in self.reasons:
            raise Refused("parameter_invalid")

    def increment(self, ref: Ref, amount: int) -> str | None:
        if ref.status != "requires_capture":
            raise Refused("payment_intent_unexpected_state")
        if "incremental_authorization" not in ref.granted or ref.captures > 0:
            raise Refused("payment_intent_unexpected_state")
        if ref.increments >= 10:
            raise Refused("payment_intent_unexpected_state")
        if amount <= ref.amount:
            raise Refused("parameter_invalid")
        if amount > 99_999_999:
            raise Refused("amount_too_large")
        ref.increments += 1
        ref.version += 1
        if ref.payment_method == "pm_card_incrementDeclined":
            return "card_declined"
        ref.amount = ref.capturable = amount
        ref.events.append("payment_intent.amount_capturable_updated")
        return None

    def refund(self, ref: Ref, refund_id: str, amount: int | None, reason: str | None) -> str:
        """Record a refund (its id is the service's); returns the refund's status."""
        if ref.status not in ("requires_capture", "succeeded"):
            raise Refused("payment_intent_unexpected_state")
        if ref.received == 0:
            raise Refused("charge_not_captured")
        left = ref.received - ref.refunded
        if left == 0:
            raise Refused("charge_already_refunded")
        amount = left if amount is None else amount
        if amount > left:
            raise Refused("amount_too_large")
        assert ref.payment_method is not None
        status = (
            "failed"
            if ref.payment_method == "pm_card_refundFail"
            else "pending"
            if ref.payment_method in ASYNC
            else "succeeded"
        )
        ref.refunds[refund_id] = [amount, status]
        ref.version += 1
        ref.events.append("refund.created")
        ref.events.append("refund.failed" if status == "failed" else "charge.refunded")
        return status

    def move_refund(self, ref: Ref, refund_id: str, to: str | None) -> None:
        """Settle (``succeeded``, ``failed``) or withdraw (``canceled``) a pending refund; with
        ``to=None``, edit what it says about itself."""
        current = ref.refunds[refund_id]
        if to is not None:
            if current[1] != "pending":
                raise Refused("refund_unexpected_state")
            current[1] = to
        ref.version += 1
        ref.events.append("refund.updated")
        if to == "failed":
            ref.events.append("refund.failed")

    def cancel(self, ref: Ref, reason: str | None) -> None:
        if ref.status not in CANCELABLE[self.profile]:
            raise Refused("payment_intent_unexpected_state")
        self._release(ref, reason)
        ref.version += 1

    def update(self, ref: Ref, changes: dict[str, Any]) -> None:
        restricted = {"payment_method", "amount"} & changes.keys()
        if restricted and ref.status not in ATTEMPTABLE:
            raise Refused("payment_intent_unexpected_state")
        if ref.status == "canceled":
            raise Refused("payment_intent_unexpected_state")
        if "payment_method" in changes:
            self._check_method(ref, changes["payment_method"])
            ref.payment_method = changes["payment_method"]
            ref.status, ref.authenticated = "requires_confirmation", None
        if "amount" in changes:
            ref.amount = changes["amount"]
        ref.has_error = False
        ref.version += 1


def _copy(ref: Ref) -> Ref:
    return Ref(**{**ref.__dict__, "events": list(ref.events)})


def _assign(ref: Ref, other: Ref) -> None:
    ref.__dict__.update(other.__dict__)
