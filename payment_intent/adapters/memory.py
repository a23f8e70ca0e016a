"""The in-memory store: the default for tests, thread-safe, with the same guarantees as the others.

Intents, events and idempotency records are kept as JSON, exactly as a database would hold them, so
a loaded intent never shares state with one handed out earlier, and :meth:`snapshot` can show that a
refused request changed nothing. Sorted indexes serve list pages and the expiry sweep without a
scan.
"""

from __future__ import annotations

import json
import threading
from bisect import bisect_left, bisect_right, insort
from dataclasses import asdict
from typing import Any

from payment_intent.domain.errors import ConcurrencyError
from payment_intent.domain.model import Event, PaymentIntent
from payment_intent.domain.status import Status
from payment_intent.ports import Commit, IdempotencyRecord, ListQuery

_Key = tuple[int, str]
_TOP = chr(0x10FFFF)


class _Row:
    """What the indexes need to know of a stored intent."""

    __slots__ = ("created", "customer", "due_at", "json", "status", "version")

    def __init__(self, intent: PaymentIntent) -> None:
        self.json = intent.model_dump_json().encode()
        self.version = intent.version
        self.created = intent.created
        self.customer = intent.customer
        self.status = intent.status
        self.due_at = intent.capture_before_at if intent.status is Status.REQUIRES_CAPTURE else None

    def index_keys(self) -> tuple[tuple[str | None, Status | None], ...]:
        if self.customer is None:
            return ((None, None), (None, self.status))
        return (
            (None, None),
            (None, self.status),
            (self.customer, None),
            (self.customer, self.status),
        )


def _conflict(message: str) -> ConcurrencyError:
    return ConcurrencyError(message, code="concurrent_modification")


class InMemoryStore:
    """A store in this process's memory; nothing outlives it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, _Row] = {}
        self._indexes: dict[tuple[str | None, Status | None], list[_Key]] = {}
        self._due: list[tuple[int, str]] = []
        self._events: list[bytes] = []
        self._event_positions: dict[str, int] = {}
        self._idempotency: dict[str, bytes] = {}

    # -- reads ---------------------------------------------------------------------------------

    def load(self, intent_id: str) -> PaymentIntent | None:
        row = self._rows.get(intent_id)
        return PaymentIntent.model_validate_json(row.json) if row is not None else None

    def idempotency_record(self, key: str) -> IdempotencyRecord | None:
        raw = self._idempotency.get(key)
        return IdempotencyRecord(**json.loads(raw)) if raw is not None else None

    def list_intents(self, query: ListQuery) -> list[PaymentIntent]:
        with self._lock:
            keys = self._indexes.get((query.customer, query.status), [])
            lo = 0 if query.created_gte is None else bisect_left(keys, (query.created_gte, ""))
            hi = (
                len(keys)
                if query.created_lte is None
                else bisect_right(keys, (query.created_lte, _TOP))
            )
            if query.after is not None:
                hi = min(hi, bisect_left(keys, query.after))
            if query.before is not None:
                lo = max(lo, bisect_right(keys, query.before))
                picked = keys[lo : min(hi, lo + query.limit)]
            else:
                picked = keys[max(lo, hi - query.limit) : hi][::-1]
            raws = [self._rows[intent_id].json for _, intent_id in picked]
        return [PaymentIntent.model_validate_json(raw) for raw in raws]

    def due_authorizations(self, now: int, limit: int) -> list[str]:
        with self._lock:
            end = bisect_right(self._due, (now, _TOP))
            return [intent_id for _, intent_id in self._due[: min(end, limit)]]

    def event_position(self, event_id: str) -> int | None:
        return self._event_positions.get(event_id)

    def read_events(self, after_sequence: int, limit: int) -> list[Event]:
        with self._lock:
            raws = self._events[max(after_sequence, 0) : max(after_sequence, 0) + limit]
        return [Event.model_validate_json(raw) for raw in raws]

    # -- the one write ---------------------------------------------------------------------------

    def commit(self, commit: Commit) -> None:
        intent = commit.intent
        row = _Row(intent) if intent is not None else None
        record = commit.idempotency
        with self._lock:
            if intent is not None:
                current = self._rows.get(intent.id)
                stored_version = current.version if current is not None else 0
                if (
                    stored_version != commit.expected_version
                    or intent.version != stored_version + 1
                ):
                    raise _conflict(
                        f"PaymentIntent {intent.id} is at version {stored_version}, not "
                        f"{commit.expected_version}: another request changed it first."
                    )
            if record is not None:
                held = self._idempotency.get(record.key)
                if held is not None and json.loads(held)["expires_at"] > record.created:
                    raise _conflict(
                        f"Idempotency key {record.key!r} was used by a concurrent request."
                    )
            # Checks passed: from here on nothing can fail, so the commit is all or nothing.
            if intent is not None and row is not None:
                self._put(intent.id, row)
            sequence = len(self._events)
            for event in commit.events:
                sequence += 1
                stamped = event.model_copy(update={"sequence": sequence})
                self._events.append(stamped.model_dump_json().encode())
                self._event_positions[event.id] = sequence
            if record is not None:
                self._idempotency[record.key] = json.dumps(asdict(record), sort_keys=True).encode()

    def _put(self, intent_id: str, row: _Row) -> None:
        old = self._rows.get(intent_id)
        if old is not None:
            for index_key in old.index_keys():
                keys = self._indexes[index_key]
                del keys[bisect_left(keys, (old.created, intent_id))]
            if old.due_at is not None:
                del self._due[bisect_left(self._due, (old.due_at, intent_id))]
        self._rows[intent_id] = row
        for index_key in row.index_keys():
            insort(self._indexes.setdefault(index_key, []), (row.created, intent_id))
        if row.due_at is not None:
            insort(self._due, (row.due_at, intent_id))

    # -- housekeeping ----------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """Everything stored, serialized deterministically: equal bytes mean equal contents."""
        with self._lock:
            state: dict[str, Any] = {
                "intents": {k: self._rows[k].json.decode() for k in sorted(self._rows)},
                "events": [raw.decode() for raw in self._events],
                "idempotency": {
                    k: self._idempotency[k].decode() for k in sorted(self._idempotency)
                },
            }
        return json.dumps(state, sort_keys=True).encode()

    def __len__(self) -> int:
        return len(self._rows)

    def close(self) -> None:
        """Nothing to release; present so every store can be closed the same way."""
