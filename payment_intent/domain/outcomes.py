"""What a payment processor can answer about an attempt, as plain values.

The processor port returns these; the domain turns them into transitions. Nothing here decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    """What the processor knows of a payment method: its type and, for cards, BIN and funding."""

    id: str
    type: str
    card_bin: str | None = None
    card_funding: Literal["credit", "debit"] | None = None
    #: The flexible-acquiring features the card's issuer allows (``multicapture``,
    #: ``overcapture``, ``incremental_authorization``, ``extended_authorization``).
    features: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Approved:
    """The attempt is authorized (and, with automatic capture, collected)."""


@dataclass(frozen=True, slots=True)
class AuthenticationRequired:
    """The customer must authenticate at ``redirect_url`` (3-D Secure, a wallet's page)."""

    redirect_url: str


@dataclass(frozen=True, slots=True)
class Pending:
    """An asynchronous method was accepted; its outcome comes later (``settle``)."""


@dataclass(frozen=True, slots=True)
class Declined:
    """The attempt failed: ``code`` (e.g. ``card_declined``), ``decline_code`` and a message."""

    code: str
    message: str
    decline_code: str | None = None


Outcome = Approved | AuthenticationRequired | Pending | Declined


@dataclass(frozen=True, slots=True)
class Attempt:
    """What the processor is asked to decide: one attempt to pay an intent with a method."""

    intent_id: str
    attempt_id: str
    payment_method: PaymentMethod
    amount: int
    currency: str
    capture_manually: bool
    return_url: str | None
    #: The customer already completed this method's authentication (manual confirmation).
    authenticated: bool = False
