"""The simulated processor: SPEC section 7's test payment methods, decided deterministically."""

from __future__ import annotations

from dataclasses import dataclass

from payment_intent.domain.outcomes import (
    Approved,
    Attempt,
    AuthenticationRequired,
    Declined,
    Outcome,
    PaymentMethod,
    Pending,
)

_GENERIC = Declined("card_declined", "Your card was declined.", "generic_decline")
_INSUFFICIENT = Declined("card_declined", "Your card has insufficient funds.", "insufficient_funds")
_EXPIRED = Declined("expired_card", "Your card has expired.", "expired_card")
_SETTLEMENT_FAILED = Declined(
    "payment_method_provider_decline",
    "The payment was declined by the customer's bank.",
    "generic_decline",
)


_APPROVED = Approved()
_REFUND_DECLINED = Declined("refund_failed", "The customer's bank could not take the refund.")
_INCREMENT_DECLINED = Declined(
    "card_declined", "The card's issuer declined the increment.", "generic_decline"
)

#: What a credit card of the test set may be granted; debit cards are granted none of it.
CREDIT_FEATURES = frozenset(
    {"multicapture", "overcapture", "incremental_authorization", "extended_authorization"}
)


@dataclass(frozen=True, slots=True)
class TestMethod:
    """A test payment method: what it is, whether it needs a redirect, how it ends, and how its
    refunds and its hold's increments end."""

    method: PaymentMethod
    outcome: Outcome
    redirect: bool = False
    refund: Outcome = _APPROVED
    increment: Outcome = _APPROVED


def _card(
    pm_id: str,
    bin_: str,
    outcome: Outcome,
    *,
    redirect: bool = False,
    funding: str = "credit",
    refund: Outcome = _APPROVED,
    increment: Outcome = _APPROVED,
) -> TestMethod:
    features = CREDIT_FEATURES if funding == "credit" else frozenset()
    method = PaymentMethod(pm_id, "card", bin_, funding, features)  # type: ignore[arg-type]
    return TestMethod(method, outcome, redirect, refund, increment)


#: The payment methods the simulated processor recognises, and the outcome each one leads to.
TEST_METHODS: dict[str, TestMethod] = {
    t.method.id: t
    for t in (
        _card("pm_card_visa", "424242", Approved()),
        _card("pm_card_mastercard", "555555", Approved()),
        _card("pm_card_visa_debit", "400005", Approved(), funding="debit"),
        _card("pm_card_threeDSecure2Required", "400000", Approved(), redirect=True),
        _card("pm_card_authenticationRequired", "400002", Approved(), redirect=True),
        _card("pm_card_visa_chargeDeclined", "400010", _GENERIC),
        _card("pm_card_visa_chargeDeclinedInsufficientFunds", "400099", _INSUFFICIENT),
        _card("pm_card_visa_chargeDeclinedExpiredCard", "400069", _EXPIRED),
        _card("pm_card_threeDSecureRequiredChargeDeclined", "400008", _GENERIC, redirect=True),
        _card("pm_card_refundFail", "400000", Approved(), refund=_REFUND_DECLINED),
        _card("pm_card_incrementDeclined", "400051", Approved(), increment=_INCREMENT_DECLINED),
        TestMethod(PaymentMethod("pm_open_banking", "open_banking"), Pending(), refund=Pending()),
        TestMethod(PaymentMethod("pm_direct_debit", "direct_debit"), Pending(), refund=Pending()),
        TestMethod(PaymentMethod("pm_gcash", "gcash"), Approved(), redirect=True),
        TestMethod(PaymentMethod("pm_maya", "maya"), Approved(), redirect=True),
        TestMethod(PaymentMethod("pm_qrph", "qrph"), Approved(), redirect=True),
    )
}


class SimulatedProcessor:
    """Decides attempts from the payment method id alone, like a provider's test mode.

    ``redirect_base`` is where authentication redirects point; the local test server sets it to
    its own address so that a browser can complete or fail the action there.
    """

    def __init__(self, redirect_base: str = "https://hooks.payment-intent.test/redirect") -> None:
        self.redirect_base = redirect_base.rstrip("/")

    def payment_method(self, payment_method_id: str) -> PaymentMethod | None:
        known = TEST_METHODS.get(payment_method_id)
        return known.method if known else None

    def authorize(self, attempt: Attempt) -> Outcome:
        known = TEST_METHODS[attempt.payment_method.id]
        if known.redirect and not attempt.authenticated:
            return AuthenticationRequired(
                f"{self.redirect_base}/{attempt.intent_id}/{attempt.attempt_id}"
            )
        return known.outcome

    def complete_authentication(self, attempt: Attempt) -> Outcome:
        return TEST_METHODS[attempt.payment_method.id].outcome

    def settle(self, attempt: Attempt, succeed: bool) -> Outcome:
        return Approved() if succeed else _SETTLEMENT_FAILED

    def capture(self, attempt: Attempt, amount: int) -> Outcome:
        """A test hold is always there to be captured, in full or in part."""
        return Approved()

    def release(self, attempt: Attempt) -> Outcome:
        """A test hold is always released on request."""
        return Approved()

    def increment_authorization(self, attempt: Attempt, amount: int) -> Outcome:
        return TEST_METHODS[attempt.payment_method.id].increment

    def refund(self, attempt: Attempt, amount: int) -> Outcome:
        """Cards refund at once; a bank method's refund is pending until settled."""
        return TEST_METHODS[attempt.payment_method.id].refund
