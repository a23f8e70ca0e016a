"""The two providers' wire languages: CasaPay (Stripe-shaped) and PayRex.

A :class:`Dialect` reads requests and renders intents, lists, events and errors in one provider's
shapes; :class:`Api` answers whole HTTP requests with one (see ``docs/http.md``).
"""

from payment_intent.dialects.api import Api, WireResponse, get_dialect
from payment_intent.dialects.base import Dialect
from payment_intent.dialects.casapay import CasaPay
from payment_intent.dialects.keys import ApiKey, ApiKeys
from payment_intent.dialects.payrex import PayRex

__all__ = [
    "Api",
    "ApiKey",
    "ApiKeys",
    "CasaPay",
    "Dialect",
    "PayRex",
    "WireResponse",
    "get_dialect",
]
