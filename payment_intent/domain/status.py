"""The canonical vocabularies of a PaymentIntent: statuses and the small enums."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Where a PaymentIntent stands; the values are the canonical (CasaPay) wire names."""

    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    REQUIRES_CAPTURE = "requires_capture"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


#: Succeeded and canceled are absorbing: nothing leaves them (but an edit of a paid intent).
TERMINAL = frozenset({Status.SUCCEEDED, Status.CANCELED})


class CaptureMethod(StrEnum):
    AUTOMATIC = "automatic"
    #: Stripe's asynchronous capture (its default from API version 2024-04-10): captured at once
    #: like ``automatic``, only the balance bookkeeping follows later.
    AUTOMATIC_ASYNC = "automatic_async"
    MANUAL = "manual"


class ConfirmationMethod(StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"


class CancellationReason(StrEnum):
    """Why an intent was canceled; ``automatic`` is only ever set by the library (hold expiry)."""

    DUPLICATE = "duplicate"
    FRAUDULENT = "fraudulent"
    REQUESTED_BY_CUSTOMER = "requested_by_customer"
    ABANDONED = "abandoned"
    AUTOMATIC = "automatic"


class RefundStatus(StrEnum):
    """Where a refund stands: ``pending`` until an asynchronous method's refund settles."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


#: The refund reason only the library sets: a hold's window closed with part of it uncaptured.
EXPIRED_UNCAPTURED_CHARGE = "expired_uncaptured_charge"


class Grant(StrEnum):
    """Whether a flexible-acquiring feature requested for a card was granted for its hold."""

    AVAILABLE = "available"
    UNAVAILABLE = "unavailable"


class EventType(StrEnum):
    """The events a PaymentIntent emits, by their canonical names."""

    CREATED = "payment_intent.created"
    REQUIRES_ACTION = "payment_intent.requires_action"
    PROCESSING = "payment_intent.processing"
    AMOUNT_CAPTURABLE_UPDATED = "payment_intent.amount_capturable_updated"
    SUCCEEDED = "payment_intent.succeeded"
    PAYMENT_FAILED = "payment_intent.payment_failed"
    CANCELED = "payment_intent.canceled"
    CHARGE_REFUNDED = "charge.refunded"
    REFUND_CREATED = "refund.created"
    REFUND_UPDATED = "refund.updated"
    REFUND_FAILED = "refund.failed"
