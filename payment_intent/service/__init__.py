"""The application layer: :class:`PaymentIntents`, one method per operation.

``intents`` holds the public signatures, ``refunds`` those of refunds and increments, ``loop`` the
command loop (idempotency, claims, retries), ``sweep`` the expiry sweep, ``commands`` which domain
decision each operation makes, ``boundary`` what every method shares at its edge.
"""

from payment_intent.service.boundary import Page
from payment_intent.service.intents import PaymentIntents
from payment_intent.service.loop import IDEMPOTENCY_TTL

__all__ = ["IDEMPOTENCY_TTL", "Page", "PaymentIntents"]
