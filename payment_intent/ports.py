"""The three ports the service runs on: a clock, a store and a payment processor.

Adapters that ship with the library live in :mod:`payment_intent.adapters`; a user's own adapter
implements the same protocol (a store proves itself with the contract suite in
``payment_intent.testing``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from payment_intent.domain.model import Event, PaymentIntent
from payment_intent.domain.outcomes import Attempt, Outcome, PaymentMethod
from payment_intent.domain.status import Status

# -- what a store raises ------------------------------------------------------------------------


class StorageError(Exception):
    """Base of what a store raises about itself, named after PEP 249's exceptions (as
    ``eventsourcing`` does): the store speaks storage, and the service decides what the API says."""


class IntegrityError(StorageError):
    """A commit lost a race: the intent's version moved, its idempotency key or the intent is held
    by another request's record or claim. Nothing was written."""


class OperationalError(StorageError):
    """The database failed or could not be reached (a restart, a lock held too long, a timeout).
    Nothing was written by the failed call; the same call may succeed later."""


class DataError(StorageError):
    """A value the database cannot hold. The parameter models refuse such values first, so this is
    a store's last line, never the caller's answer."""


@runtime_checkable
class Clock(Protocol):
    """Where time comes from: whole seconds since the Unix epoch, as both providers report it."""

    def now(self) -> int: ...


@runtime_checkable
class Processor(Protocol):
    """Decides the outcome of every payment attempt; the caller never does.

    The service asks about each claimed attempt once. Asked again about the same ``attempt_id``
    (only when a claimer crashed and a later command reconciles its claim), a processor answers
    with its first answer without acting again, as real gateways do for a repeated idempotency key.
    """

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

    def capture(self, attempt: Attempt, amount: int) -> Outcome:
        """Collect ``amount`` of the hold ``attempt`` authorized: approved or declined."""
        ...

    def increment_authorization(self, attempt: Attempt, amount: int) -> Outcome:
        """Raise the hold ``attempt`` authorized to the new total ``amount``: approved or
        declined (the hold then stays as it was)."""
        ...

    def refund(self, attempt: Attempt, amount: int) -> Outcome:
        """Send back ``amount`` of what the payment collected: approved, pending (an asynchronous
        method's refund settles later) or declined (the refund failed)."""
        ...

    def release(self, attempt: Attempt) -> Outcome:
        """Void the hold ``attempt`` authorized (a cancel): approved or declined."""
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
class Claim:
    """A command that is about to ask the processor, taken out in the store first.

    A payment reaches the processor once per attempt the store accepts: a command commits its claim
    (with ``Commit.claim``) before it calls the processor, so a racer that loses the claim never
    calls it, and records the outcome in a second commit that ``settles`` the claim. While a claim
    is held, no other commit changes its intent and no other claim takes its intent or its key.

    ``expected_version`` is the intent's stored version the command decided on (0: the intent is
    created by this command). ``params`` is the command's validated parameters as JSON-ready data:
    with ``operation`` and ``attempt_id`` they let a later command decide it again when the claimer
    crashed, asking the processor about the same attempt (``expires_at`` says when a claim counts as
    abandoned).
    """

    intent_id: str
    attempt_id: str
    expected_version: int
    operation: str
    params: dict[str, Any]
    idempotency_key: str | None
    fingerprint: str
    created: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class Commit:
    """Everything one command stores, all or nothing.

    ``intent`` is the new version (``expected_version + 1``), or ``None`` when only an idempotency
    record or a claim is written. ``expected_version`` is the version the command read, 0 for a new
    intent. ``claim`` takes a claim out (with ``intent`` ``None``); ``settles`` names the claim this
    commit completes, which must still be held and is released with the commit.
    """

    intent: PaymentIntent | None
    expected_version: int
    events: tuple[Event, ...] = ()
    idempotency: IdempotencyRecord | None = None
    claim: Claim | None = None
    settles: Claim | None = None


@dataclass(frozen=True, slots=True)
class ListQuery:
    """One page of intents, newest first (``created`` then ``id``, both descending).

    ``created_gte`` / ``created_lte`` are inclusive bounds (the service folds ``gt``/``lt`` into
    them). ``after`` asks for the items just older than that ``(created, id)`` position, newest
    first; ``before`` for the items just newer, *oldest first* (the service reverses them).
    A store returns at most ``limit`` items.

    ``now`` is the time of the request: a hold whose ``capture_before_at`` is at or before it has
    lapsed, so for the ``status`` filter it counts as ``canceled`` (as ``succeeded`` when part of
    it was captured: its ``amount_received`` is above 0), not ``requires_capture``, even while the
    sweep has not yet written its expiry out. The items are returned as stored.
    """

    limit: int
    now: int
    customer: str | None = None
    status: Status | None = None
    created_gte: int | None = None
    created_lte: int | None = None
    after: tuple[int, str] | None = None
    before: tuple[int, str] | None = None


@dataclass(frozen=True, slots=True)
class RefundQuery:
    """One page of refunds, newest first (``created`` then ``id``, both descending), optionally of
    one intent or one charge; ``after`` and ``before`` are cursors as in :class:`ListQuery`."""

    limit: int
    payment_intent: str | None = None
    charge: str | None = None
    after: tuple[int, str] | None = None
    before: tuple[int, str] | None = None


@runtime_checkable
class Store(Protocol):
    """Persistence of intents, their events, idempotency records and claims.

    ``commit`` is atomic and uses optimistic concurrency. It raises :class:`IntegrityError`, having
    written nothing, when the stored version is not ``expected_version``; when a live idempotency
    record (``expires_at`` after the new record's ``created``) or a held claim already has the key;
    when a claim is held on the intent and the commit does not settle it; when ``claim`` is given
    and the intent is not at ``claim.expected_version`` or is claimed already; when ``settles`` is
    given and that claim (same intent, same ``attempt_id``) is no longer held. A commit that writes
    an idempotency record also deletes a few records that expired by its ``created`` (through an
    index), so the table stays about a day of keys long. The database's own failures are raised as
    :class:`OperationalError`. Every read returns committed data only.
    """

    def load(self, intent_id: str) -> PaymentIntent | None: ...

    def commit(self, commit: Commit) -> None: ...

    def idempotency_record(self, key: str) -> IdempotencyRecord | None: ...

    def claim(self, intent_id: str) -> Claim | None:
        """The claim held on an intent, live or expired, or ``None``."""
        ...

    def claim_for_key(self, key: str) -> Claim | None:
        """The claim held under an idempotency key, or ``None``."""
        ...

    def purge_idempotency(self, now: int, limit: int) -> int:
        """Delete up to ``limit`` idempotency records that expired at or before ``now`` (oldest
        first, through an index); returns how many went."""
        ...

    def list_intents(self, query: ListQuery) -> list[PaymentIntent]: ...

    def due_authorizations(self, now: int, limit: int) -> list[str]:
        """Ids of intents in requires_capture whose ``capture_before_at`` is at or before ``now``,
        soonest first; found through an index, so the cost follows the number that are due."""
        ...

    def refund_owner(self, refund_id: str) -> str | None:
        """The id of the intent that holds refund ``refund_id``, or ``None``.

        A store indexes every refund of every intent it commits (``PaymentIntent.refunds``),
        by id, by intent and by charge, in the same transaction as the intent.
        """
        ...

    def list_refunds(self, query: RefundQuery) -> list[tuple[str, str]]:
        """One page of ``(refund id, intent id)``, in the query's order, through the index."""
        ...

    def event_position(self, event_id: str) -> int | None:
        """The commit-order sequence of an event, or ``None`` if there is no such event."""
        ...

    def read_events(self, after_sequence: int, limit: int) -> list[Event]:
        """Committed events with a sequence above ``after_sequence``, in commit order."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class BatchStore(Store, Protocol):
    """A store that can write many independent commits in one transaction (the SQL stores): the
    expiry sweep then pays one flush per batch instead of one per hold."""

    def commit_many(self, commits: Sequence[Commit]) -> list[IntegrityError | None]:
        """Apply each commit as if alone, in one transaction; a commit that conflicts writes nothing
        and its :class:`IntegrityError` takes its place in the result (``None``: written)."""
        ...
