"""The application layer: :class:`PaymentIntents`, one method per operation.

``intents`` holds the public signatures, ``loop`` the command loop (idempotency, claims, retries),
``sweep`` the expiry sweep, ``commands`` which domain decision each operation makes.
"""

from payment_intent.service.intents import Page, PaymentIntents
from payment_intent.service.loop import IDEMPOTENCY_TTL

__all__ = ["IDEMPOTENCY_TTL", "Page", "PaymentIntents"]
