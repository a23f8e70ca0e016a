"""Where endpoints, deliveries, attempts and relay cursors are kept: the :class:`WebhookStore`
port, and the in-memory adapter. The SQL adapters live in :mod:`.sqlite` and :mod:`.postgres`,
each in the same database as the intents (tables of their own, a migration table of their own).

The guarantees every adapter gives, checked by ``tests/webhooks/contract.py``:

- ``fan_out`` moves an endpoint's cursor only from the value the caller read (compare and set),
  and inserts its deliveries in the same transaction; a delivery is unique per (endpoint, event).
  Two workers that read the same cursor create each delivery once.
- ``claim`` leases due, pending deliveries of enabled endpoints to one worker until
  ``lease_until``; no other claim takes a leased delivery before its lease lapses (PostgreSQL:
  ``FOR UPDATE SKIP LOCKED``).
- ``record`` writes an attempt and the delivery's new state together, and only while the caller
  still holds the lease: a delivery that was acknowledged is never claimed again.
- ``relay_record`` moves a relay's cursor in the same transaction as the attempt it records.
- ``record`` and ``relay_record`` also forget what is past :data:`RETENTION`: attempts started,
  and finished (delivered or failed) deliveries last attempted, more than 30 days before the
  newest attempt they write. A pending delivery is never forgotten. They look at most once per
  :data:`PRUNE_EVERY`, so a long-running server keeps about 30 days of history, not all of it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol, runtime_checkable

from sortedcontainers import SortedList

from payment_intent.webhooks.model import (
    Attempt,
    ClaimedDelivery,
    Delivery,
    Endpoint,
    NewDelivery,
    RelayState,
    Result,
)

#: How long attempts and finished deliveries are kept: 30 days, as Stripe keeps events and
#: their delivery attempts.
RETENTION = 30 * 24 * 3600.0
#: How often (in the attempts' time) a store looks for what is past its retention.
PRUNE_EVERY = 3600.0


class Pruning:
    """When a store next forgets what is past :data:`RETENTION`: at most once per
    :data:`PRUNE_EVERY`, measured by the attempts it writes (the wall clock of the senders)."""

    def __init__(self) -> None:
        self._next = 0.0

    def cutoff(self, attempts: Sequence[Attempt]) -> float | None:
        """The time before which to forget, when ``attempts`` make a look due; else ``None``."""
        if not attempts:
            return None
        now = max(attempt.started_at for attempt in attempts)
        if now < self._next:
            return None
        self._next = now + PRUNE_EVERY
        return now - RETENTION


#: What ``fan_out`` is given per endpoint: its id, the cursor the worker read, the cursor it moves
#: to, and the deliveries to create on the way.
FanOut = tuple[str, int, int, Sequence[NewDelivery]]


@runtime_checkable
class WebhookStore(Protocol):
    """Persistence of webhook endpoints, deliveries, attempts and relay cursors (one mode's)."""

    # -- endpoints -------------------------------------------------------------------------------

    def add_endpoint(self, endpoint: Endpoint, max_endpoints: int) -> bool:
        """Store a new endpoint unless ``max_endpoints`` exist already (then ``False``)."""
        ...

    def endpoint(self, endpoint_id: str) -> Endpoint | None: ...

    def endpoints(
        self, limit: int | None = None, after: str | None = None, before: str | None = None
    ) -> list[Endpoint]:
        """Endpoints newest first (ids sort by creation); ``after``: older than that id;
        ``before``: newer than that id (still newest first)."""
        ...

    def update_endpoint(self, endpoint: Endpoint) -> bool:
        """Store an endpoint's new settings (not its cursor); ``False`` if it is gone."""
        ...

    def delete_endpoint(self, endpoint_id: str) -> bool:
        """Remove an endpoint with its deliveries and attempts; ``False`` if there was none."""
        ...

    # -- delivery --------------------------------------------------------------------------------

    def fan_out(self, plan: Sequence[FanOut], now: float) -> int:
        """Per entry, in one transaction: move the cursor if it still is the value read, and
        create the deliveries (due at ``now``). Returns how many deliveries were created."""
        ...

    def due_endpoints(self, now: float) -> list[str]:
        """The enabled endpoints with a pending delivery due at ``now`` and not leased."""
        ...

    def claim(
        self, endpoint_id: str, now: float, limit: int, lease_until: float, token: str
    ) -> list[ClaimedDelivery]:
        """Lease up to ``limit`` due deliveries of an enabled endpoint (soonest due first) to
        ``token`` until ``lease_until``."""
        ...

    def record(self, results: Sequence[Result]) -> int:
        """Write each attempt and its delivery's new state, for the leases still held, and
        forget what is past :data:`RETENTION`; returns how many were written."""
        ...

    def deliveries(
        self, endpoint_id: str | None = None, event_id: str | None = None
    ) -> list[Delivery]:
        """Deliveries in creation order, of one endpoint and/or one event."""
        ...

    def attempts(
        self, target: str | None = None, event_id: str | None = None, limit: int = 100
    ) -> list[Attempt]:
        """Attempts newest first, of one target and/or one event."""
        ...

    def undelivered(self, event_ids: Sequence[str]) -> dict[str, int]:
        """Per event, its deliveries not acknowledged (pending or failed); absent means none."""
        ...

    # -- relays ----------------------------------------------------------------------------------

    def relay_lease(
        self, name: str, start: int, now: float, lease_until: float, token: str
    ) -> RelayState | None:
        """Lease the relay ``name`` (created at cursor ``start`` if new) unless another holds it
        or its next attempt is not yet due (then ``None``)."""
        ...

    def relay_record(
        self,
        name: str,
        token: str,
        attempt: Attempt | None,
        cursor: int,
        attempts: int,
        next_attempt_at: float | None,
    ) -> bool:
        """Record ``attempt`` (if any) and move the relay to ``cursor`` (with ``attempts`` made on
        the next event, due at ``next_attempt_at``) in one transaction, releasing the lease, and
        forget what is past :data:`RETENTION`; ``False`` when the lease was lost."""
        ...

    def relay_state(self, name: str) -> RelayState | None: ...

    # -- housekeeping ----------------------------------------------------------------------------

    def clear(self) -> None:
        """Forget every endpoint, delivery, attempt and relay."""
        ...

    def close(self) -> None: ...


class InMemoryWebhookStore:
    """The webhook store of an :class:`~payment_intent.InMemoryStore`: dictionaries under a lock.

    Each endpoint's pending deliveries wait in a queue sorted by when they are due, so that a
    worker's round looks only at the front of each queue (past the deliveries it leased), never
    at the whole backlog.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._endpoints: dict[str, Endpoint] = {}
            self._deliveries: dict[int, Delivery] = {}
            # Per endpoint its pending deliveries, soonest due first, as (next_attempt_at, id),
            # leased ones included; and per event its deliveries not yet acknowledged: what the
            # worker asks about every round, kept so that its cost follows the work in flight.
            self._queues: dict[str, SortedList[tuple[float, int]]] = {}
            self._undelivered: dict[str, int] = {}
            self._last_id = 0
            self._by_pair: set[tuple[str, str]] = set()
            self._leases: dict[int, tuple[str, float]] = {}
            # Finished deliveries and when their last attempt started: what pruning looks at.
            self._finished: dict[int, float] = {}
            self._pruning = Pruning()
            self._attempts: list[Attempt] = []
            self._relays: dict[str, RelayState] = {}
            self._relay_leases: dict[str, float] = {}

    # -- endpoints -------------------------------------------------------------------------------

    def add_endpoint(self, endpoint: Endpoint, max_endpoints: int) -> bool:
        with self._lock:
            if len(self._endpoints) >= max_endpoints:
                return False
            self._endpoints[endpoint.id] = endpoint
            return True

    def endpoint(self, endpoint_id: str) -> Endpoint | None:
        with self._lock:
            return self._endpoints.get(endpoint_id)

    def endpoints(
        self, limit: int | None = None, after: str | None = None, before: str | None = None
    ) -> list[Endpoint]:
        with self._lock:
            found = sorted(self._endpoints.values(), key=lambda e: e.id, reverse=True)
        if after is not None:
            found = [e for e in found if e.id < after]
        if before is not None:
            found = [e for e in found if e.id > before]
            return found[-limit:] if limit is not None else found
        return found[:limit] if limit is not None else found

    def update_endpoint(self, endpoint: Endpoint) -> bool:
        with self._lock:
            stored = self._endpoints.get(endpoint.id)
            if stored is None:
                return False
            self._endpoints[endpoint.id] = replace(endpoint, cursor=stored.cursor)
            return True

    def delete_endpoint(self, endpoint_id: str) -> bool:
        with self._lock:
            if self._endpoints.pop(endpoint_id, None) is None:
                return False
            self._queues.pop(endpoint_id, None)
            for number, delivery in list(self._deliveries.items()):
                if delivery.endpoint_id == endpoint_id:
                    del self._deliveries[number]
                    self._leases.pop(number, None)
                    self._finished.pop(number, None)
                    self._by_pair.discard((endpoint_id, delivery.event_id))
                    if delivery.state != "delivered":
                        self._count(delivery.event_id, -1)
            self._attempts = [a for a in self._attempts if a.target != endpoint_id]
            return True

    # -- delivery --------------------------------------------------------------------------------

    def fan_out(self, plan: Sequence[FanOut], now: float) -> int:
        created = 0
        with self._lock:
            for endpoint_id, read, moved_to, news in plan:
                endpoint = self._endpoints.get(endpoint_id)
                if endpoint is None or endpoint.cursor != read:
                    continue
                self._endpoints[endpoint_id] = replace(endpoint, cursor=moved_to)
                for new in news:
                    if (new.endpoint_id, new.event_id) in self._by_pair:
                        continue
                    self._by_pair.add((new.endpoint_id, new.event_id))
                    self._last_id += 1
                    number = self._last_id
                    made = Delivery(
                        number,
                        new.endpoint_id,
                        new.event_id,
                        new.event_sequence,
                        new.event_type,
                        new.body,
                        "pending",
                        0,
                        now,
                    )
                    self._deliveries[number] = made
                    self._queue(made)
                    self._count(new.event_id, 1)
                    created += 1
        return created

    def _queue(self, delivery: Delivery) -> None:
        """Put a pending ``delivery`` in its endpoint's queue; the caller holds the lock."""
        if delivery.state == "pending" and delivery.next_attempt_at is not None:
            queue = self._queues.setdefault(delivery.endpoint_id, SortedList())
            queue.add((delivery.next_attempt_at, delivery.id))

    def _unqueue(self, delivery: Delivery) -> None:
        """Take ``delivery`` out of its endpoint's queue; the caller holds the lock."""
        if delivery.state == "pending" and delivery.next_attempt_at is not None:
            self._queues[delivery.endpoint_id].remove((delivery.next_attempt_at, delivery.id))

    def _due(self, endpoint_id: str, now: float, limit: int) -> list[Delivery]:
        """Up to ``limit`` of the endpoint's pending deliveries due at ``now`` and not leased,
        soonest due first (none if it is not enabled); the caller holds the lock. It reads the
        front of the endpoint's queue: the deliveries leased, then the ones it returns."""
        endpoint = self._endpoints.get(endpoint_id)
        if endpoint is None or endpoint.status != "enabled":
            return []
        due: list[Delivery] = []
        for next_attempt_at, number in self._queues.get(endpoint_id, ()):
            if next_attempt_at > now or len(due) == limit:
                break
            if self._leases.get(number, ("", 0.0))[1] <= now:
                due.append(self._deliveries[number])
        return due

    def due_endpoints(self, now: float) -> list[str]:
        with self._lock:
            return sorted(e for e in self._queues if self._due(e, now, 1))

    def claim(
        self, endpoint_id: str, now: float, limit: int, lease_until: float, token: str
    ) -> list[ClaimedDelivery]:
        claimed: list[ClaimedDelivery] = []
        with self._lock:
            for delivery in self._due(endpoint_id, now, limit):
                endpoint = self._endpoints[delivery.endpoint_id]
                self._leases[delivery.id] = (token, lease_until)
                claimed.append(
                    ClaimedDelivery(
                        delivery,
                        endpoint.url,
                        endpoint.secret,
                        endpoint.dialect,
                        endpoint.livemode,
                        token,
                    )
                )
        return claimed

    def record(self, results: Sequence[Result]) -> int:
        written = 0
        with self._lock:
            for result in results:
                number = result.claimed.delivery.id
                stored = self._deliveries.get(number)
                lease = self._leases.get(number)
                if stored is None or lease is None or lease[0] != result.claimed.lease_token:
                    continue
                del self._leases[number]
                self._unqueue(stored)
                updated = self._deliveries[number] = replace(
                    stored,
                    state=result.state,
                    attempts=result.attempt.number,
                    next_attempt_at=result.attempt.next_retry_at,
                )
                if updated.state == "pending":
                    self._queue(updated)
                else:
                    self._finished[number] = result.attempt.started_at
                if updated.state == "delivered":
                    self._count(updated.event_id, -1)
                self._attempts.append(result.attempt)
                written += 1
            self._prune(self._pruning.cutoff([r.attempt for r in results]))
        return written

    def _prune(self, before: float | None) -> None:
        """Forget attempts and finished deliveries from before ``before``; the caller holds the
        lock."""
        if before is None:
            return
        self._attempts = [a for a in self._attempts if a.started_at >= before]
        for number, finished_at in list(self._finished.items()):
            if finished_at >= before:
                continue
            del self._finished[number]
            delivery = self._deliveries.pop(number)
            self._by_pair.discard((delivery.endpoint_id, delivery.event_id))
            if delivery.state == "failed":
                self._count(delivery.event_id, -1)

    def deliveries(
        self, endpoint_id: str | None = None, event_id: str | None = None
    ) -> list[Delivery]:
        with self._lock:
            return [
                d
                for _, d in sorted(self._deliveries.items())
                if (endpoint_id is None or d.endpoint_id == endpoint_id)
                and (event_id is None or d.event_id == event_id)
            ]

    def attempts(
        self, target: str | None = None, event_id: str | None = None, limit: int = 100
    ) -> list[Attempt]:
        with self._lock:
            found = [
                a
                for a in reversed(self._attempts)
                if (target is None or a.target == target)
                and (event_id is None or a.event_id == event_id)
            ]
        return found[:limit]

    def undelivered(self, event_ids: Sequence[str]) -> dict[str, int]:
        with self._lock:
            counts = {e: self._undelivered.get(e, 0) for e in event_ids}
        return {event_id: count for event_id, count in counts.items() if count}

    def _count(self, event_id: str, change: int) -> None:
        """Move ``event_id``'s count of unacknowledged deliveries; the caller holds the lock."""
        left = self._undelivered.get(event_id, 0) + change
        if left:
            self._undelivered[event_id] = left
        else:
            self._undelivered.pop(event_id, None)

    # -- relays ----------------------------------------------------------------------------------

    def relay_lease(
        self, name: str, start: int, now: float, lease_until: float, token: str
    ) -> RelayState | None:
        with self._lock:
            state = self._relays.get(name) or RelayState(name, start, 0, None)
            if self._relay_leases.get(name, 0.0) > now or (
                state.next_attempt_at is not None and state.next_attempt_at > now
            ):
                return None
            self._relays[name] = state = replace(state, lease_token=token)
            self._relay_leases[name] = lease_until
            return state

    def relay_record(
        self,
        name: str,
        token: str,
        attempt: Attempt | None,
        cursor: int,
        attempts: int,
        next_attempt_at: float | None,
    ) -> bool:
        with self._lock:
            state = self._relays.get(name)
            if state is None or state.lease_token != token:
                return False
            self._relays[name] = RelayState(name, cursor, attempts, next_attempt_at)
            self._relay_leases.pop(name, None)
            if attempt is not None:
                self._attempts.append(attempt)
                self._prune(self._pruning.cutoff([attempt]))
            return True

    def relay_state(self, name: str) -> RelayState | None:
        with self._lock:
            state = self._relays.get(name)
        return replace(state, lease_token=None) if state is not None else None

    def close(self) -> None:
        """Nothing to release."""
