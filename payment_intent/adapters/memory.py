"""The in-memory store: the default for tests, thread-safe, with the same guarantees as the others.

Intents are immutable all the way down (frozen models, read-only metadata), so the store keeps the
committed objects themselves and hands them out again: no copy, no serialisation on the hot path.
Each intent keeps, rather than its older versions, one *undo* per version (the fields that version
changed, with their previous values), and each event keeps only its own fields: an event's
``data`` is rebuilt on reading by undoing the later versions.

The ``hot_intents`` most recently written intents stay live objects. Older ones are *cold*: packed
into one :mod:`marshal` blob each (current fields, undos and events as plain tuples, see
:mod:`._plain`), which is about a fifth of the memory. A cold intent is unpacked when read, and
becomes hot again when written. Bucketed sorted indexes (:mod:`._sorted`) serve list pages and the
expiry sweep without a scan, at a cost that does not grow with the store.
"""

from __future__ import annotations

import json
import marshal
import threading
from bisect import bisect_left
from dataclasses import asdict
from itertools import islice, takewhile
from typing import Any

from payment_intent.adapters._plain import Codec
from payment_intent.adapters._sorted import SortedKeys
from payment_intent.domain.errors import parameter_invalid
from payment_intent.domain.model import Event, PaymentIntent
from payment_intent.domain.status import EventType, Status
from payment_intent.ids import event_id, parse_event_id
from payment_intent.ports import Claim, Commit, IdempotencyRecord, IntegrityError, ListQuery

_TOP = chr(0x10FFFF)
_INTENTS: Codec[PaymentIntent] = Codec(PaymentIntent)
_FIELDS = _INTENTS.names
_POSITION = {name: index for index, name in enumerate(_FIELDS)}
_ENCODERS = _INTENTS.field_encoders
_TYPES = [event_type.value for event_type in EventType]
_TYPE_CODES = {name: code for code, name in enumerate(_TYPES)}

#: An event of an intent, as stored: ``(sequence, version, index, type, created, previous)``.
#: ``type`` is a code into ``_TYPES`` when it is one of ours. The id is derived (:func:`event_id`).
_EventRecord = tuple[int, int, int, int | str, int, dict[str, Any]]


class _Row:
    """One intent: its current version (an object while hot, in ``cold`` otherwise), what the
    indexes need, and its history.

    ``cold`` holds the state as of the last time the row went cold: ``(fields, undos, events)``.
    ``undos`` and ``events`` hold what was written since, as objects: ``undos[i]`` maps each field
    that a version changed to its value in the version before.
    """

    __slots__ = (
        "cold",
        "created",
        "customer",
        "due_at",
        "events",
        "index_keys",
        "intent",
        "status",
        "undos",
        "version",
    )

    def __init__(self, intent: PaymentIntent) -> None:
        self.status: Status | None = None
        self.customer: str | None = None
        self.index_keys: tuple[tuple[str | None, Status | None], ...] = ()
        self.cold: bytes | None = None
        self.intent: PaymentIntent | None = intent
        self.undos: list[dict[str, Any]] = []
        self.events: list[_EventRecord] = []
        self.created = intent.created
        self._describe(intent)

    def _describe(self, intent: PaymentIntent) -> None:
        self.version = intent.version
        self.due_at = intent.capture_before_at if intent.status is Status.REQUIRES_CAPTURE else None
        if intent.status is not self.status or intent.customer != self.customer:
            self.customer = intent.customer
            self.status = intent.status
            self.index_keys = _index_keys(intent.customer, intent.status)

    def current(self) -> PaymentIntent:
        if self.intent is not None:
            return self.intent
        assert self.cold is not None
        return _INTENTS.decode(marshal.loads(self.cold)[0])

    def write(self, intent: PaymentIntent) -> None:
        """Make ``intent`` (the next version) current, recording what it changed."""
        old = self.current().__dict__
        new = intent.__dict__
        # Versions share the objects they did not change, so identity settles most fields.
        self.undos.append({k: v for k, v in old.items() if new[k] is not v and new[k] != v})
        self.intent = intent
        self._describe(intent)

    def freeze(self) -> None:
        """Pack this row into its cold blob (it stays readable; writing it thaws it again)."""
        intent = self.current()
        undos: list[dict[int, Any]] = []
        events: list[_EventRecord] = []
        if self.cold is not None:
            _, undos, events = marshal.loads(self.cold)
        for undo in self.undos:
            plain = {}
            for name, value in undo.items():
                encode = _ENCODERS.get(name)
                plain[_POSITION[name]] = value if encode is None or value is None else encode(value)
            undos.append(plain)
        events.extend(self.events)
        self.cold = marshal.dumps((_INTENTS.encode(intent), undos, events))
        self.intent, self.undos, self.events = None, [], []

    def history(self) -> tuple[list[_EventRecord], Any]:
        """All events of this intent, oldest first, and a function from a version to the intent."""
        undos_plain: list[dict[int, Any]] = []
        events: list[_EventRecord] = []
        current_plain: tuple[Any, ...] | None = None
        if self.cold is not None:
            current_plain, undos_plain, events = marshal.loads(self.cold)
        events = [*events, *self.events]
        hot_undos = self.undos
        cold_version = self.version - len(hot_undos)

        def at_version(version: int) -> PaymentIntent:
            if version >= cold_version:
                fields = dict(self.current().__dict__)
                for undo in reversed(hot_undos[version - cold_version :]):
                    fields.update(undo)
                return PaymentIntent.model_construct(**fields)
            assert current_plain is not None
            values = list(current_plain)
            for undo in reversed(undos_plain[version - 1 :]):
                for index, value in undo.items():
                    values[index] = value
            return _INTENTS.decode(tuple(values))

        return events, at_version


def _index_keys(
    customer: str | None, status: Status
) -> tuple[tuple[str | None, Status | None], ...]:
    """The indexes an intent with this customer and status is listed in."""
    if customer is None:
        return ((None, None), (None, status))
    return ((None, None), (None, status), (customer, None), (customer, status))


def _conflict(message: str) -> IntegrityError:
    return IntegrityError(message)


def _own_record(event: Event, intent: PaymentIntent | None, index: int) -> _EventRecord | None:
    """How the row stores ``event``, or ``None`` if the store must keep the whole event: its data
    is not the committed version, its id is not the derived one, or marshal cannot write it."""
    if (
        intent is None
        or event.intent_id != intent.id
        or event.intent_version != intent.version
        or event.id != event_id(intent.id, intent.version, index)
        or not (event.data is intent or event.data == intent)
    ):
        return None
    if event.previous_attributes:
        try:
            marshal.dumps(event.previous_attributes)
        except ValueError:
            return None
    code = _TYPE_CODES.get(event.type, event.type)
    return (0, intent.version, index, code, event.created, event.previous_attributes)


def _pack_record(record: IdempotencyRecord) -> bytes:
    """An idempotency record as bytes: marshal, or JSON when the response holds other types."""
    fields = (record.key, record.fingerprint, record.created, record.expires_at, record.response)
    try:
        return b"m" + marshal.dumps(fields)
    except ValueError:
        return b"j" + json.dumps(fields).encode()


def _unpack_record(packed: bytes) -> IdempotencyRecord:
    fields = marshal.loads(packed[1:]) if packed[:1] == b"m" else json.loads(packed[1:])
    return IdempotencyRecord(*fields)


class InMemoryStore:
    """A store in this process's memory; nothing outlives it.

    ``hot_intents`` is how many recently written intents stay live objects (fastest to read and
    write again); the rest are packed compactly.
    """

    def __init__(self, hot_intents: int = 1024) -> None:
        if isinstance(hot_intents, bool) or not isinstance(hot_intents, int) or hot_intents < 1:
            raise parameter_invalid(
                "hot_intents", "hot_intents must be a whole number of 1 or more."
            )
        self._lock = threading.Lock()
        self._hot_limit = hot_intents
        self._hot: dict[str, None] = {}
        self._rows: dict[str, _Row] = {}
        self._indexes: dict[tuple[str | None, Status | None], SortedKeys] = {}
        self._due = SortedKeys()
        # Per event sequence: the id of the intent whose row holds it, or None for the events
        # kept whole (in _foreign, found by id through _foreign_positions).
        self._events: list[str | None] = []
        self._foreign: dict[int, bytes] = {}
        self._foreign_positions: dict[str, int] = {}
        # key -> (expires_at, the record packed by _pack_record)
        self._idempotency: dict[str, tuple[int, bytes]] = {}
        self._claims: dict[str, Claim] = {}
        self._claim_keys: dict[str, str] = {}

    # -- reads ---------------------------------------------------------------------------------

    def load(self, intent_id: str) -> PaymentIntent | None:
        with self._lock:
            row = self._rows.get(intent_id)
            return row.current() if row is not None else None

    def claim(self, intent_id: str) -> Claim | None:
        with self._lock:
            return self._claims.get(intent_id)

    def claim_for_key(self, key: str) -> Claim | None:
        with self._lock:
            intent_id = self._claim_keys.get(key)
            return self._claims.get(intent_id) if intent_id is not None else None

    def purge_idempotency(self, now: int, limit: int) -> int:
        with self._lock:
            gone = [k for k, (expires_at, _) in self._idempotency.items() if expires_at <= now]
            for key in gone[:limit]:
                del self._idempotency[key]
            return min(len(gone), limit)

    def idempotency_record(self, key: str) -> IdempotencyRecord | None:
        held = self._idempotency.get(key)
        return _unpack_record(held[1]) if held is not None else None

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
                found = takewhile(lambda key: high is None or key <= high, found)
            else:
                if query.after is not None and (high is None or query.after <= high):
                    found = keys.descending(query.after)
                else:
                    found = keys.descending(high, inclusive=True)
                found = takewhile(lambda key: low is None or key >= low, found)
            return [self._rows[intent_id].current() for _, intent_id in islice(found, query.limit)]

    def due_authorizations(self, now: int, limit: int) -> list[str]:
        with self._lock:
            due = takewhile(lambda key: key[0] <= now, self._due.ascending())
            return [intent_id for _, intent_id in islice(due, limit)]

    def event_position(self, event_id: str) -> int | None:
        with self._lock:
            found = self._foreign_positions.get(event_id)
            if found is not None:
                return found
            parsed = parse_event_id(event_id) if isinstance(event_id, str) else None
            row = self._rows.get(parsed[0]) if parsed is not None else None
            if parsed is None or row is None:
                return None
            _, version, index = parsed
            events, _ = row.history()
            for sequence, event_version, event_index, *_ in events:
                if (event_version, event_index) == (version, index):
                    return sequence
            return None

    def read_events(self, after_sequence: int, limit: int) -> list[Event]:
        with self._lock:
            return self._read_events(max(after_sequence, 0), limit)

    def _read_events(self, start: int, limit: int) -> list[Event]:
        histories: dict[str, Any] = {}
        versions: dict[tuple[str, int], PaymentIntent] = {}
        events = []
        for sequence, owner in enumerate(self._events[start : start + limit], start + 1):
            if owner is None:
                event = Event.model_validate_json(self._foreign[sequence])
                events.append(event.model_copy(update={"sequence": sequence}))
                continue
            history = histories.get(owner)
            if history is None:
                history = histories[owner] = self._rows[owner].history()
            records, at_version = history
            found = records[bisect_left(records, (sequence,))]
            _, version, index, code, created, previous = found
            data = versions.get((owner, version))
            if data is None:
                data = versions[owner, version] = at_version(version)
            events.append(
                Event(
                    id=event_id(owner, version, index),
                    type=_TYPES[code] if isinstance(code, int) else code,
                    created=created,
                    intent_id=owner,
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
        own = [_own_record(event, intent, index) for index, event in enumerate(commit.events)]
        foreign = (
            [
                event.model_dump_json(exclude={"sequence"}).encode() if record is None else b""
                for event, record in zip(commit.events, own, strict=True)
            ]
            if None in own
            else [b""] * len(own)
        )
        record = commit.idempotency
        packed = _pack_record(record) if record is not None else b""
        with self._lock:
            claim, settles = commit.claim, commit.settles
            if claim is not None:
                row = self._rows.get(claim.intent_id)
                held = self._idempotency.get(claim.idempotency_key or "")
                if (
                    (row.version if row is not None else 0) != claim.expected_version
                    or claim.intent_id in self._claims
                    or (claim.idempotency_key or "") in self._claim_keys
                    or (held is not None and held[0] > claim.created)
                ):
                    raise _conflict(f"PaymentIntent {claim.intent_id} cannot be claimed now.")
            if settles is not None:
                mine = self._claims.get(settles.intent_id)
                if mine is None or mine.attempt_id != settles.attempt_id:
                    raise _conflict(f"The claim on {settles.intent_id} is no longer held.")
            elif intent is not None and intent.id in self._claims:
                raise _conflict(f"PaymentIntent {intent.id} is claimed by another request.")
            row = None
            if intent is not None:
                row = self._rows.get(intent.id)
                stored_version = row.version if row is not None else 0
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
                if held is not None and held[0] > record.created:
                    raise _conflict(
                        f"Idempotency key {record.key!r} was used by a concurrent request."
                    )
            # Checks passed: from here on nothing can fail, so the commit is all or nothing.
            if intent is not None:
                row = self._write(intent, row)
            for event, own_record, raw in zip(commit.events, own, foreign, strict=True):
                if own_record is None or row is None:
                    self._events.append(None)
                    sequence = len(self._events)
                    self._foreign[sequence] = raw
                    self._foreign_positions[event.id] = sequence
                else:
                    self._events.append(event.intent_id)
                    _, version, index, code, created, previous = own_record
                    row.events.append((len(self._events), version, index, code, created, previous))
            if record is not None:
                self._idempotency[record.key] = (record.expires_at, packed)
            if claim is not None:
                self._claims[claim.intent_id] = claim
                if claim.idempotency_key is not None:
                    self._claim_keys[claim.idempotency_key] = claim.intent_id
            if settles is not None:
                del self._claims[settles.intent_id]
                self._claim_keys.pop(settles.idempotency_key or "", None)

    def _write(self, intent: PaymentIntent, row: _Row | None) -> _Row:
        """Store ``intent`` as its row's current version, move it in the indexes, keep it hot."""
        intent_id = intent.id
        position = (intent.created, intent_id)
        if row is None:
            row = self._rows[intent_id] = _Row(intent)
            old_keys: tuple[tuple[str | None, Status | None], ...] = ()
            old_due = None
        else:
            old_keys, old_due = row.index_keys, row.due_at
            row.write(intent)
            position = (row.created, intent_id)
        new_keys = row.index_keys
        if old_keys != new_keys:
            for key in old_keys:
                if key not in new_keys:
                    self._indexes[key].remove(position)
            for key in new_keys:
                if key not in old_keys:
                    keys = self._indexes.get(key)
                    if keys is None:
                        keys = self._indexes[key] = SortedKeys()
                    keys.add(position)
        if old_due != row.due_at:
            if old_due is not None:
                self._due.remove((old_due, intent_id))
            if row.due_at is not None:
                self._due.add((row.due_at, intent_id))
        hot = self._hot
        hot.pop(intent_id, None)
        hot[intent_id] = None
        if len(hot) > self._hot_limit:
            coldest = next(iter(hot))
            del hot[coldest]
            self._rows[coldest].freeze()
        return row

    # -- housekeeping ----------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """Everything stored, serialized deterministically: equal bytes mean equal contents."""
        with self._lock:
            state: dict[str, Any] = {
                "intents": {
                    k: self._rows[k].current().model_dump_json() for k in sorted(self._rows)
                },
                "events": [e.model_dump_json() for e in self._read_events(0, len(self._events))],
                "idempotency": {
                    k: json.dumps(asdict(_unpack_record(self._idempotency[k][1])), sort_keys=True)
                    for k in sorted(self._idempotency)
                },
            }
        return json.dumps(state, sort_keys=True).encode()

    def __len__(self) -> int:
        return len(self._rows)

    def close(self) -> None:
        """Nothing to release; present so every store can be closed the same way."""
