"""The in-memory store: the default for tests, and the one to read before writing your own.

Everything lives in plain dicts and lists behind one lock, so every method sees and leaves a
consistent state. Intents and events are immutable (frozen models), so the store keeps the objects
it was given and hands them out again. An idempotency record's response is kept as its JSON text,
as the SQL stores keep it: a few times smaller than the nested dicts of a whole intent, and out of
reach of a caller who changes the dict it committed. Sorted lists (``sortedcontainers``) index what
is read in order: the list pages, the holds the expiry sweep looks for, the records by expiry.
"""

from __future__ import annotations

import heapq
import json
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from itertools import islice
from typing import Any, NamedTuple

from pydantic_core import to_json
from sortedcontainers import SortedList

from payment_intent.domain.model import Event, PaymentIntent
from payment_intent.domain.status import Status
from payment_intent.ports import (
    Claim,
    Commit,
    IdempotencyRecord,
    IntegrityError,
    ListQuery,
    RefundQuery,
)

#: Where an intent sits in a list: newest first is descending ``(created, id)``.
Position = tuple[int, str]
#: A list an intent is filed under: ``(customer, status)``, ``None`` meaning any.
ListKey = tuple[str | None, Status | None]
#: A list a refund is filed under: ``(intent id, charge id)``, ``None`` meaning any.
RefundListKey = tuple[str | None, str | None]


def _filed_under(intent: PaymentIntent) -> set[tuple[ListKey, Position]]:
    """Every list an intent belongs in, with its position there."""
    position = (intent.created, intent.id)
    customers = {None, intent.customer}
    return {
        ((customer, status), position) for customer in customers for status in (None, intent.status)
    }


def _hold(intent: PaymentIntent | None) -> tuple[int, str] | None:
    """The intent's key in the index of live holds; ``None`` when it holds nothing that lapses."""
    if intent is None or intent.status is not Status.REQUIRES_CAPTURE:
        return None
    if intent.capture_before_at is None:
        return None
    return (intent.capture_before_at, intent.id)


class _Record(NamedTuple):
    """An idempotency record as kept: its response as JSON text."""

    fingerprint: str
    created: int
    expires_at: int
    response: bytes


class InMemoryStore:
    """A store in this process's memory; nothing outlives it. Safe to share between threads.

    Claims are kept as given: a caller must not change a claim's ``params`` after committing it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._intents: dict[str, PaymentIntent] = {}
        # As committed: the event at position n is self._events[n - 1], and gets its sequence as
        # it is read (most events are never read, and a copy per commit is a third of its cost).
        self._events: list[Event] = []
        self._positions: dict[str, int] = {}  # event id -> position
        self._records: dict[str, _Record] = {}
        self._records_by_expiry: SortedList[tuple[int, str]] = SortedList()  # (expires_at, key)
        self._claims: dict[str, Claim] = {}  # intent id -> claim
        self._claims_by_key: dict[str, Claim] = {}
        self._lists: defaultdict[ListKey, SortedList[Position]] = defaultdict(SortedList)
        self._holds: SortedList[tuple[int, str]] = SortedList()  # (capture_before_at, id)
        self._refund_owners: dict[str, str] = {}  # refund id -> intent id
        # Refund positions per list: ``(intent id, charge id)``, ``None`` meaning any.
        self._refund_lists: defaultdict[RefundListKey, SortedList[Position]] = defaultdict(
            SortedList
        )

    # -- reads ---------------------------------------------------------------------------------

    def load(self, intent_id: str) -> PaymentIntent | None:
        with self._lock:
            return self._intents.get(intent_id)

    def idempotency_record(self, key: str) -> IdempotencyRecord | None:
        with self._lock:
            kept = self._records.get(key)
        if kept is None:
            return None
        fingerprint, created, expires_at, response = kept
        return IdempotencyRecord(key, fingerprint, created, expires_at, json.loads(response))

    def claim(self, intent_id: str) -> Claim | None:
        with self._lock:
            return self._claims.get(intent_id)

    def claim_for_key(self, key: str) -> Claim | None:
        with self._lock:
            return self._claims_by_key.get(key)

    def list_intents(self, query: ListQuery) -> list[PaymentIntent]:
        newest_first = query.before is None
        with self._lock:
            if query.status in (Status.CANCELED, Status.SUCCEEDED):
                # A lapsed hold is canceled for the filter, or succeeded when part of it was
                # captured: merge those in, in the same order.
                found: Iterable[Position] = heapq.merge(
                    self._walk(query, query.status),
                    self._lapsed(query, captured=query.status is Status.SUCCEEDED),
                    reverse=newest_first,
                )
            elif query.status is Status.REQUIRES_CAPTURE:
                found = (
                    position
                    for position in self._walk(query, Status.REQUIRES_CAPTURE)
                    if not self._lapsed_at(self._intents[position[1]], query.now)
                )
            else:
                found = self._walk(query, query.status)
            return [self._intents[intent_id] for _, intent_id in islice(found, query.limit)]

    def refund_owner(self, refund_id: str) -> str | None:
        with self._lock:
            return self._refund_owners.get(refund_id)

    def list_refunds(self, query: RefundQuery) -> list[tuple[str, str]]:
        low = (query.before[0], query.before[1] + "\0") if query.before is not None else None
        with self._lock:
            found = self._refund_lists[query.payment_intent, query.charge].irange(
                low, query.after, inclusive=(True, False), reverse=query.before is None
            )
            page = [refund_id for _, refund_id in islice(found, query.limit)]
            return [(refund_id, self._refund_owners[refund_id]) for refund_id in page]

    def _walk(self, query: ListQuery, status: Status | None) -> Iterator[Position]:
        """The positions in one list within the query's bounds, in the query's order."""
        low, high = _bounds(query)
        return self._lists[query.customer, status].irange(
            low, high, inclusive=(True, False), reverse=query.before is None
        )

    def _lapsed(self, query: ListQuery, *, captured: bool) -> list[Position]:
        """The lapsed holds within the query's bounds, part captured or not, in its order: found
        through the index of live holds, so this costs what the holds the sweep has not yet
        expired cost."""
        low, high = _bounds(query)
        due = self._holds.irange(maximum=(query.now + 1, ""), inclusive=(True, False))
        positions = []
        for _, intent_id in due:
            intent = self._intents[intent_id]
            position = (intent.created, intent.id)
            if (
                (intent.amount_received > 0) == captured
                and query.customer in (None, intent.customer)
                and (low is None or low <= position)
                and (high is None or position < high)
            ):
                positions.append(position)
        return sorted(positions, reverse=query.before is None)

    @staticmethod
    def _lapsed_at(intent: PaymentIntent, now: int) -> bool:
        return intent.capture_before_at is not None and intent.capture_before_at <= now

    def due_authorizations(self, now: int, limit: int) -> list[str]:
        with self._lock:
            due = self._holds.irange(maximum=(now + 1, ""), inclusive=(True, False))
            return [intent_id for _, intent_id in islice(due, limit)]

    def event_position(self, event_id: str) -> int | None:
        with self._lock:
            return self._positions.get(event_id)

    def read_events(self, after_sequence: int, limit: int) -> list[Event]:
        start = max(after_sequence, 0)
        with self._lock:
            events = self._events[start : start + max(limit, 0)]
        return [
            event.model_copy(update={"sequence": position})
            for position, event in enumerate(events, start + 1)
        ]

    # -- writes --------------------------------------------------------------------------------

    def commit(self, commit: Commit) -> None:
        if commit.claim is not None and (
            commit.intent or commit.events or commit.idempotency or commit.settles
        ):
            raise ValueError("A commit that takes a claim writes nothing else (only Commit.claim).")
        record = commit.idempotency
        response = to_json(record.response) if record is not None else b""
        with self._lock:
            self._check(commit)
            # Every check passed, and nothing below can fail: the commit is all or nothing.
            self._apply(commit, response)

    def _check(self, commit: Commit) -> None:
        """Raise IntegrityError if the commit cannot be applied as a whole."""
        settled = None
        if commit.settles is not None:
            settled = self._claims.get(commit.settles.intent_id)
            if settled is None or settled.attempt_id != commit.settles.attempt_id:
                raise IntegrityError(
                    f"The claim of attempt {commit.settles.attempt_id} on PaymentIntent "
                    f"{commit.settles.intent_id} is no longer held."
                )
        intent = commit.intent
        if intent is not None:
            self._check_version(intent.id, commit.expected_version)
            if intent.version != commit.expected_version + 1:
                raise IntegrityError(
                    f"PaymentIntent {intent.id} version {intent.version} cannot follow version "
                    f"{commit.expected_version}."
                )
            self._check_unclaimed(intent.id, settled)
        record = commit.idempotency
        if record is not None:
            self._check_key_free(record.key, record.created, settled)
        claim = commit.claim
        if claim is not None:
            self._check_version(claim.intent_id, claim.expected_version)
            self._check_unclaimed(claim.intent_id, None)
            if claim.idempotency_key is not None:
                self._check_key_free(claim.idempotency_key, claim.created, None)

    def _check_version(self, intent_id: str, expected: int) -> None:
        stored = self._intents.get(intent_id)
        version = stored.version if stored is not None else 0
        if version != expected:
            raise IntegrityError(
                f"PaymentIntent {intent_id} is at version {version}, not {expected}: another "
                "request changed it first."
            )

    def _check_unclaimed(self, intent_id: str, settled: Claim | None) -> None:
        held = self._claims.get(intent_id)
        if held is not None and held is not settled:
            raise IntegrityError(
                f"PaymentIntent {intent_id} is claimed by attempt {held.attempt_id} of another "
                "request."
            )

    def _check_key_free(self, key: str, created: int, settled: Claim | None) -> None:
        """A key is free at ``created`` when no claim holds it (other than the one being settled)
        and no record that is still live then has it."""
        held = self._claims_by_key.get(key)
        if held is not None and held is not settled:
            raise IntegrityError(f"Idempotency key {key!r} is claimed by a concurrent request.")
        stored = self._records.get(key)
        if stored is not None and stored.expires_at > created:
            raise IntegrityError(f"Idempotency key {key!r} was used by a concurrent request.")

    def _apply(self, commit: Commit, response: bytes) -> None:
        if commit.settles is not None:
            self._release(self._claims[commit.settles.intent_id])
        if commit.intent is not None:
            self._write(commit.intent)
        for event in commit.events:
            self._events.append(event)
            self._positions[event.id] = len(self._events)
        record = commit.idempotency
        if record is not None:
            # Each record written deletes up to two expired ones: the records stay about one
            # time-to-live long, however long the process runs.
            self._purge(record.created, 2)
            replaced = self._records.get(record.key)
            if replaced is not None:
                self._records_by_expiry.remove((replaced.expires_at, record.key))
            kept = _Record(record.fingerprint, record.created, record.expires_at, response)
            self._records[record.key] = kept
            self._records_by_expiry.add((record.expires_at, record.key))
        claim = commit.claim
        if claim is not None:
            self._claims[claim.intent_id] = claim
            if claim.idempotency_key is not None:
                self._claims_by_key[claim.idempotency_key] = claim

    def _write(self, intent: PaymentIntent) -> None:
        """Make ``intent`` the stored version and move it in the indexes it changed in."""
        before = self._intents.get(intent.id)
        self._intents[intent.id] = intent
        filed = _filed_under(before) if before is not None else set()
        refiled = _filed_under(intent)
        for key, position in filed - refiled:
            self._lists[key].remove(position)
        for key, position in refiled - filed:
            self._lists[key].add(position)
        held, holds = _hold(before), _hold(intent)
        if held != holds:
            if held is not None:
                self._holds.remove(held)
            if holds is not None:
                self._holds.add(holds)
        for refund in intent.refunds:
            if refund.id not in self._refund_owners:
                self._refund_owners[refund.id] = intent.id
                position = (refund.created, refund.id)
                for intent_id in (None, intent.id):
                    for charge in (None, refund.charge):
                        self._refund_lists[intent_id, charge].add(position)

    def _release(self, claim: Claim) -> None:
        del self._claims[claim.intent_id]
        if claim.idempotency_key is not None:
            del self._claims_by_key[claim.idempotency_key]

    def purge_idempotency(self, now: int, limit: int) -> int:
        with self._lock:
            return self._purge(now, limit)

    def _purge(self, now: int, limit: int) -> int:
        """Delete up to ``limit`` records expired at ``now``, the longest expired first."""
        expired = self._records_by_expiry.irange(maximum=(now + 1, ""), inclusive=(True, False))
        keys = [key for _, key in islice(expired, max(limit, 0))]
        del self._records_by_expiry[: len(keys)]
        for key in keys:
            del self._records[key]
        return len(keys)

    # -- housekeeping --------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """Everything stored, serialised deterministically: equal bytes mean equal contents."""

        def dump(value: Any) -> str:
            return json.dumps(value, sort_keys=True)

        with self._lock:
            records = {k: (*v[:3], json.loads(v.response)) for k, v in self._records.items()}
            state = {
                "intents": {k: v.model_dump_json() for k, v in sorted(self._intents.items())},
                "events": [event.model_dump_json() for event in self._events],
                "idempotency": {k: dump(v) for k, v in sorted(records.items())},
                "claims": {k: dump(asdict(v)) for k, v in sorted(self._claims.items())},
            }
        return json.dumps(state, sort_keys=True).encode()

    def __len__(self) -> int:
        """How many intents are stored."""
        with self._lock:
            return len(self._intents)

    def close(self) -> None:
        """Nothing to release; present so every store can be closed the same way."""


def _bounds(query: ListQuery) -> tuple[Position | None, Position | None]:
    """The query's window of positions as ``[low, high)`` (``None``: open at that end).

    ``""`` is the smallest id and ``id + "\\0"`` the smallest after ``id``, so the ``created``
    bounds and the exclusive cursors all become one half-open range.
    """
    low = (query.created_gte, "") if query.created_gte is not None else None
    high = (query.created_lte + 1, "") if query.created_lte is not None else None
    if query.before is not None:
        after_cursor = (query.before[0], query.before[1] + "\0")
        low = after_cursor if low is None else max(low, after_cursor)
    if query.after is not None:
        high = query.after if high is None else min(high, query.after)
    return low, high
