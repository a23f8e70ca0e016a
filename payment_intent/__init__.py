"""payment_intent: a provider's PaymentIntent as a framework-free domain core.

Statuses, transitions, capture and expiry rules of the CasaPay (Stripe-shaped) and PayRex
PaymentIntent, with storage, clock and processor behind swappable ports.
"""

from typing import TYPE_CHECKING, Any

from payment_intent.adapters.clocks import ManualClock, SystemClock
from payment_intent.adapters.memory import InMemoryStore
from payment_intent.adapters.simulated import SimulatedProcessor
from payment_intent.adapters.sqlite import SQLiteStore
from payment_intent.domain.model import (
    Charge,
    ClientPaymentIntent,
    Event,
    NextAction,
    PaymentError,
    PaymentIntent,
)
from payment_intent.domain.profiles import CASAPAY, PAYREX, Profile, get_profile
from payment_intent.domain.status import (
    CancellationReason,
    CaptureMethod,
    ConfirmationMethod,
    EventType,
    Status,
)
from payment_intent.ports import Clock, Processor, Store
from payment_intent.service import Page, PaymentIntents
from payment_intent.stores import store_from_url

if TYPE_CHECKING:
    from payment_intent.adapters.postgres import PostgresStore as PostgresStore

__all__ = [
    "CASAPAY",
    "PAYREX",
    "CancellationReason",
    "CaptureMethod",
    "Charge",
    "ClientPaymentIntent",
    "Clock",
    "ConfirmationMethod",
    "Event",
    "EventType",
    "InMemoryStore",
    "ManualClock",
    "NextAction",
    "Page",
    "PaymentError",
    "PaymentIntent",
    "PaymentIntents",
    "Processor",
    "Profile",
    "SQLiteStore",
    "SimulatedProcessor",
    "Status",
    "Store",
    "SystemClock",
    "get_profile",
    "store_from_url",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``PostgresStore`` is imported on first use, so the package itself never needs psycopg
    (it is not in ``__all__`` for the same reason: a star import must not need it either)."""
    if name == "PostgresStore":
        from payment_intent.adapters.postgres import PostgresStore as PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
