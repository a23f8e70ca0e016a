"""The in-memory store: the default for tests, thread-safe, with the same guarantees as the others.

Every row is kept serialised, exactly as a database would hold it, so a loaded intent never shares
state with one handed out earlier, and :meth:`snapshot` can show that a refused request changed
nothing. Rows are compact (:mod:`marshal` of plain tuples, see :mod:`._plain`): an intent is kept
once, at its latest version, with an undo record per earlier version (the fields that version
changed, with their old values), and an event stores only its own fields. An event's ``data``, the
intent as that event's version left it, is rebuilt on reading by undoing the later versions. Sorted
indexes serve list pages and the expiry sweep without a scan.
"""

from __future__ import annotations

import json
import marshal
import threading
from dataclasses import asdict
from itertools import islice, takewhile
from typing import Any

from payment_intent.adapters._plain import Codec
from payment_intent.adapters._sorted import SortedKeys
from payment_intent.domain.errors import ConcurrencyError
from payment_intent.domain.model import Event, PaymentIntent
from payment_intent.domain.status import Status
from payment_intent.ports import Commit, IdempotencyRecord, ListQuery

_TOP = chr(0x10FFFF)
_INTENTS: Codec[PaymentIntent] = Codec(PaymentIntent)


class _Row:
    """One stored intent: its latest version serialised, what the indexes need, and its history.

    ``undo[i]`` turns version ``i + 2`` back into version ``i + 1``: a marshalled dict from field
    position to the value that version had there.
    """

    __slots__ = ("created", "customer", "data", "due_at", "status", "undo", "version")

    def __init__(self, intent: PaymentIntent, data: bytes, undo: tuple[bytes, ...]) -> None:
        self.data = data
        self.undo = undo
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

    def at_version(self, version: int) -> tuple[Any, ...]:
        """The plain tuple of this intent as it stood at ``version``."""
        values = list(marshal.loads(self.data))
        for undo in reversed(self.undo[version - 1 :]):
            for index, value in marshal.loads(undo).items():
                values[index] = value
        return tuple(values)


def _conflict(message: str) -> ConcurrencyError:
    return ConcurrencyError(message, code="concurrent_modification")


def _event_record(event: Event, intent: PaymentIntent | None) -> bytes:
    """An event as stored: its own fields when ``data`` is the committed version (the service's
    events always are), else the whole event as JSON."""
    if (
        intent is not None
        and event.intent_id == intent.id
        and event.intent_version == intent.version
        and (event.data is intent or event.data == intent)
    ):
        fields = (
            event.id,
            event.type,
            event.created,
            event.intent_id,
            event.intent_version,
            event.previous_attributes,
        )
        try:
            return marshal.dumps(fields)
        except ValueError:  # previous_attributes holds something marshal cannot write
            pass
    return marshal.dumps((event.id, event.model_dump_json(exclude={"sequence"})))


class InMemoryStore:
    """A store in this process's memory; nothing outlives it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, _Row] = {}
        self._indexes: dict[tuple[str | None, Status | None], SortedKeys] = {}
        self._due = SortedKeys()
        self._events: list[bytes] = []
        self._event_positions: dict[str, int] = {}
        self._idempotency: dict[str, bytes] = {}

    # -- reads ---------------------------------------------------------------------------------

    def load(self, intent_id: str) -> PaymentIntent | None:
        row = self._rows.get(intent_id)
        return _INTENTS.decode(marshal.loads(row.data)) if row is not None else None

    def idempotency_record(self, key: str) -> IdempotencyRecord | None:
        raw = self._idempotency.get(key)
        return IdempotencyRecord(**json.loads(raw)) if raw is not None else None

    def list_intents(self, query: ListQuery) -> list[PaymentIntent]:
        low = None if query.created_gte is None else (query.created_gte, "")
        high = None if query.created_lte is None else (query.created_lte, _TOP)
        with self._lock:
            keys = self._indexes.get((query.customer, query.status))
            if keys is None:
                return []
            if query.before is not None:
                # Just newer than the cursor, oldest first; the tighter lower bound wins.
                if low is not None and low > query.before:
                    found = keys.ascending(low, inclusive=True)
                else:
                    found = keys.ascending(query.before)
                picked = list(
                    islice(takewhile(lambda k: high is None or k <= high, found), query.limit)
                )
            else:
                if query.after is not None and (high is None or query.after <= high):
                    found = keys.descending(query.after)
                else:
                    found = keys.descending(high, inclusive=True)
                picked = list(
                    islice(takewhile(lambda k: low is None or k >= low, found), query.limit)
                )
            raws = [self._rows[intent_id].data for _, intent_id in picked]
        return [_INTENTS.decode(marshal.loads(raw)) for raw in raws]

    def due_authorizations(self, now: int, limit: int) -> list[str]:
        with self._lock:
            due = takewhile(lambda key: key[0] <= now, self._due.ascending())
            return [intent_id for _, intent_id in islice(due, limit)]

    def event_position(self, event_id: str) -> int | None:
        return self._event_positions.get(event_id)

    def read_events(self, after_sequence: int, limit: int) -> list[Event]:
        with self._lock:
            return self._read_events(max(after_sequence, 0), limit)

    def _read_events(self, start: int, limit: int) -> list[Event]:
        versions: dict[tuple[str, int], PaymentIntent] = {}
        events = []
        for sequence, raw in enumerate(self._events[start : start + limit], start + 1):
            fields = marshal.loads(raw)
            if len(fields) == 2:
                event = Event.model_validate_json(fields[1])
                events.append(event.model_copy(update={"sequence": sequence}))
                continue
            event_id, event_type, created, intent_id, version, previous = fields
            data = versions.get((intent_id, version))
            if data is None:
                data = _INTENTS.decode(self._rows[intent_id].at_version(version))
                versions[intent_id, version] = data
            events.append(
                Event(
                    id=event_id,
                    type=event_type,
                    created=created,
                    intent_id=intent_id,
                    intent_version=version,
                    data=data,
                    previous_attributes=previous,
                    sequence=sequence,
                )
            )
        return events

    # -- the one write ---------------------------------------------------------------------------

    def commit(self, commit: Commit) -> None:
        intent = commit.intent
        plain = _INTENTS.encode(intent) if intent is not None else None
        events = [_event_record(event, intent) for event in commit.events]
        record = commit.idempotency
        with self._lock:
            current = None
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
            if intent is not None and plain is not None:
                undo: tuple[bytes, ...] = ()
                if current is not None:
                    old = marshal.loads(current.data)
                    changed = {i: value for i, value in enumerate(old) if value != plain[i]}
                    undo = (*current.undo, marshal.dumps(changed))
                self._put(intent.id, current, _Row(intent, marshal.dumps(plain), undo))
            sequence = len(self._events)
            for event, raw in zip(commit.events, events, strict=True):
                sequence += 1
                self._events.append(raw)
                self._event_positions[event.id] = sequence
            if record is not None:
                self._idempotency[record.key] = json.dumps(asdict(record), sort_keys=True).encode()

    def _put(self, intent_id: str, old: _Row | None, row: _Row) -> None:
        self._rows[intent_id] = row
        # An intent's creation time never changes, so only the status indexes move.
        new_keys = row.index_keys()
        if old is not None:
            old_keys = old.index_keys()
            if old_keys == new_keys and old.due_at == row.due_at:
                return
            position = (old.created, intent_id)
            for index_key in old_keys:
                if index_key not in new_keys:
                    self._indexes[index_key].remove(position)
            if old.due_at is not None:
                self._due.remove((old.due_at, intent_id))
        else:
            old_keys = ()
            position = (row.created, intent_id)
        for index_key in new_keys:
            if index_key not in old_keys:
                keys = self._indexes.get(index_key)
                if keys is None:
                    keys = self._indexes[index_key] = SortedKeys()
                keys.add(position)
        if row.due_at is not None:
            self._due.add((row.due_at, intent_id))

    # -- housekeeping ----------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """Everything stored, serialized deterministically: equal bytes mean equal contents."""
        with self._lock:
            state: dict[str, Any] = {
                "intents": {
                    k: _INTENTS.decode(marshal.loads(self._rows[k].data)).model_dump_json()
                    for k in sorted(self._rows)
                },
                "events": [e.model_dump_json() for e in self._read_events(0, len(self._events))],
                "idempotency": {
                    k: self._idempotency[k].decode() for k in sorted(self._idempotency)
                },
            }
        return json.dumps(state, sort_keys=True).encode()

    def __len__(self) -> int:
        return len(self._rows)

    def close(self) -> None:
        """Nothing to release; present so every store can be closed the same way."""
