"""Small builders the unit tests share."""

from __future__ import annotations

from payment_intent import PaymentIntent, PaymentIntents


def hold(svc: PaymentIntents, amount: int = 120_000) -> PaymentIntent:
    """An intent whose card payment is authorized and held for manual capture."""
    return svc.create(
        amount=amount,
        currency="eur",
        capture_method="manual",
        payment_method="pm_card_visa",
        confirm=True,
    )
