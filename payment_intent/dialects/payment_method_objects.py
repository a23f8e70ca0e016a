"""Stripe's PaymentMethod object, for the payment methods the processor knows.

The processor port says what decides a payment (a method's type, a card's BIN and funding). A
Stripe user also reads what the Dashboard shows of a card: its brand, last four digits, expiry and
country. For the test methods these are Stripe's own test cards (``pm_card_visa`` is the Visa
ending in 4242); a card the processor knows that is not one of them shows the brand its BIN
belongs to, and no last four digits Stripe would not have either (``"0000"``).
"""

from __future__ import annotations

from typing import Any

from payment_intent.domain.outcomes import PaymentMethod

#: Last four digits of Stripe's test card behind each test payment method.
TEST_CARD_LAST4: dict[str, str] = {
    "pm_card_visa": "4242",
    "pm_card_mastercard": "4444",
    "pm_card_visa_debit": "5556",
    "pm_card_threeDSecure2Required": "3220",
    "pm_card_authenticationRequired": "3155",
    "pm_card_visa_chargeDeclined": "0002",
    "pm_card_visa_chargeDeclinedInsufficientFunds": "9995",
    "pm_card_visa_chargeDeclinedExpiredCard": "0069",
    "pm_card_threeDSecureRequiredChargeDeclined": "1629",
}

#: When the test methods came to be: they exist before any intent of a test store.
TEST_METHODS_CREATED = 1704067200
#: Stripe's test cards accept any future expiry; these are the ones the server reports.
TEST_CARD_EXPIRY = (12, 2034)
TEST_CARD_COUNTRY = "US"

_NO_ADDRESS: dict[str, Any] = {
    "city": None,
    "country": None,
    "line1": None,
    "line2": None,
    "postal_code": None,
    "state": None,
}


def brand(card_bin: str | None) -> str:
    """A card network by the leading digits of the card number."""
    if not card_bin:
        return "unknown"
    if card_bin.startswith("4"):
        return "visa"
    two = int(card_bin[:2]) if card_bin[:2].isdigit() else 0
    four = int(card_bin[:4]) if card_bin[:4].isdigit() else 0
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return "mastercard"
    if two in (34, 37):
        return "amex"
    if card_bin.startswith(("6011", "65")):
        return "discover"
    return "unknown"


def no_billing_details() -> dict[str, Any]:
    """``billing_details`` when none were collected: every field present and null."""
    return {"address": dict(_NO_ADDRESS), "email": None, "name": None, "phone": None}


def card_details(method: PaymentMethod) -> dict[str, Any]:
    """What a card shows of itself: the parts of ``payment_method.card`` and of a charge's
    ``payment_method_details.card`` that both carry."""
    card_brand = brand(method.card_bin)
    exp_month, exp_year = TEST_CARD_EXPIRY
    return {
        "brand": card_brand,
        "checks": {
            "address_line1_check": None,
            "address_postal_code_check": None,
            "cvc_check": None,
        },
        "country": TEST_CARD_COUNTRY,
        "exp_month": exp_month,
        "exp_year": exp_year,
        "fingerprint": None,
        "funding": method.card_funding or "credit",
        "last4": TEST_CARD_LAST4.get(method.id, "0000"),
        "wallet": None,
    }


def render(method: PaymentMethod, *, livemode: bool) -> dict[str, Any]:
    """The ``payment_method`` object."""
    body: dict[str, Any] = {
        "id": method.id,
        "object": "payment_method",
        "billing_details": no_billing_details(),
        "created": TEST_METHODS_CREATED,
        "customer": None,
        "livemode": livemode,
        "metadata": {},
        "type": method.type,
    }
    if method.type == "card":
        card = card_details(method)
        card["generated_from"] = None
        card["networks"] = {"available": [card["brand"]], "preferred": None}
        card["three_d_secure_usage"] = {"supported": True}
        body["card"] = card
    else:
        body[method.type] = {}
    return body


def unknown(method_id: str, *, livemode: bool) -> dict[str, Any]:
    """A method the processor no longer knows (an intent keeps its id): what is still known."""
    return {
        "id": method_id,
        "object": "payment_method",
        "billing_details": no_billing_details(),
        "created": TEST_METHODS_CREATED,
        "customer": None,
        "livemode": livemode,
        "metadata": {},
        "type": "card" if method_id.startswith("pm_card") else "unknown",
    }
