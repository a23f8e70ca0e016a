"""The three ports the service runs on: a clock, a store and a payment processor.

Adapters that ship with the library live in :mod:`payment_intent.adapters`; a user's own adapter
implements the same protocol (a store proves itself with the contract suite in
``payment_intent.testing``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from payment_intent.domain.model import Event, PaymentIntent
from payment_intent.domain.outcomes import Attempt, Outcome, PaymentMethod
from payment_intent.domain.status import Status


@runtime_checkable
class Clock(Protocol):
    """Where time comes from: whole seconds since the Unix epoch, as both providers report it."""

    def now(self) -> int: ...


@runtime_checkable
class Processor(Protocol):
    """Decides the outcome of every payment attempt; the caller never does."""

    def payment_method(self, payment_method_id: str) -> PaymentMethod | None:
        """The method behind an id, or ``None`` when the processor does not know it."""
        ...

    def authorize(self, attempt: Attempt) -> Outcome:
        """The outcome of a confirm: approved, authentication required, pending or declined."""
        ...

    def complete_authentication(self, attempt: Attempt) -> Outcome:
        """The outcome once the customer completed the redirect: approved, pending or declined."""
        ...

    def settle(self, attempt: Attempt, succeed: bool) -> Outcome:
        """The final outcome of an asynchronous method: approved or declined."""
        ...


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """The first result of a request made with an idempotency key, kept for 24 hours.

    ``response`` is JSON-ready data: ``{"intent": {...}}`` for a success, ``{"error": {...}}`` for
    a failure that was recorded on the intent (a decline). A refused request stores no record:
    neither invalid parameters nor an operation the status does not allow, which includes a
    capture that meets a lapsed hold (the hold's expiry is stored on its own, and a retry meets
    the same canceled intent and the same error).
    """

    key: str
    fingerprint: str
    created: int
    expires_at: int
    response: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Commit:
    """Everything one command stores, all or nothing.

    ``intent`` is the new version (``expected_version + 1``), or ``None`` when only an idempotency
    record is written. ``expected_version`` is the version the command read, 0 for a new intent.
    """

    intent: PaymentIntent | None
    expected_version: int
    events: tuple[Event, ...] = ()
    idempotency: IdempotencyRecord | None = None


@dataclass(frozen=True, slots=True)
class ListQuery:
    """One page of intents, newest first (``created`` then ``id``, both descending).

    ``created_gte`` / ``created_lte`` are inclusive bounds (the service folds ``gt``/``lt`` into
    them). ``after`` asks for the items just older than that ``(created, id)`` position, newest
    first; ``before`` for the items just newer, *oldest first* (the service reverses them).
    A store returns at most ``limit`` items.
    """

    limit: int
    customer: str | None = None
    status: Status | None = None
    created_gte: int | None = None
    created_lte: int | None = None
    after: tuple[int, str] | None = None
    before: tuple[int, str] | None = None


@runtime_checkable
class Store(Protocol):
    """Persistence of intents, their events and idempotency records.

    ``commit`` is atomic and uses optimistic concurrency: it raises
    :class:`~payment_intent.errors.ConcurrencyError` when the stored version is not
    ``expected_version`` or when a live idempotency record already holds the key. Every read returns
    committed data only.
    """

    def load(self, intent_id: str) -> PaymentIntent | None: ...

    def commit(self, commit: Commit) -> None: ...

    def idempotency_record(self, key: str) -> IdempotencyRecord | None: ...

    def list_intents(self, query: ListQuery) -> list[PaymentIntent]: ...

    def due_authorizations(self, now: int, limit: int) -> list[str]:
        """Ids of intents in requires_capture whose ``capture_before_at`` is at or before ``now``,
        soonest first; found through an index, so the cost follows the number that are due."""
        ...

    def event_position(self, event_id: str) -> int | None:
        """The commit-order sequence of an event, or ``None`` if there is no such event."""
        ...

    def read_events(self, after_sequence: int, limit: int) -> list[Event]:
        """Committed events with a sequence above ``after_sequence``, in commit order."""
        ...

    def close(self) -> None: ...
