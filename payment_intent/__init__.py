"""payment_intent: a provider's PaymentIntent as a framework-free domain core.

Statuses, transitions, capture and expiry rules of the CasaPay (Stripe-shaped) and PayRex
PaymentIntent, with storage, clock and processor behind swappable ports.
"""

from payment_intent.adapters.clocks import ManualClock, SystemClock
from payment_intent.adapters.memory import InMemoryStore
from payment_intent.adapters.simulated import SimulatedProcessor
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
    "SimulatedProcessor",
    "Status",
    "Store",
    "SystemClock",
    "get_profile",
]
__version__ = "0.1.0"
