"""The typed errors (defined with the domain, importable from here)."""

from payment_intent.domain.errors import (
    AuthenticationError,
    CardError,
    ConcurrencyError,
    IdempotencyError,
    InvalidRequestError,
    PaymentIntentError,
    ProcessorUnavailableError,
    StorageUnavailableError,
)

__all__ = [
    "AuthenticationError",
    "CardError",
    "ConcurrencyError",
    "IdempotencyError",
    "InvalidRequestError",
    "PaymentIntentError",
    "ProcessorUnavailableError",
    "StorageUnavailableError",
]
