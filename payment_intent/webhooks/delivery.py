"""The delivery worker: from the committed event feed to every endpoint, off the request path.

One thread runs the loop, a small pool of threads does the sending. Each round the loop

1. *fans out*: reads the feed after the endpoints' cursors (``Store.read_events``), renders each
   event once per dialect and API version, and in one store transaction per round creates the
   deliveries and moves each endpoint's cursor (compare and set, so two workers never create a
   delivery twice);
2. *claims* due deliveries, a few per endpoint (so one slow receiver cannot occupy every sender),
   leasing them to this worker;
3. *records* the attempts the senders finished, in one transaction per batch.

API requests never wait for any of it: they commit their events and return, and a receiver that is
slow, failing or unreachable only delays its own deliveries. Nor do they share the machine with it
while they come in a burst: a checkout is a few requests in quick succession, and a new event is
delivered once the feed has been still for ``quiet`` seconds (or has waited ``max_hold``, so a
server under sustained load still delivers, and catches up before it waits again).

A worker that dies leaves its leased deliveries to be claimed again when their lease lapses, and
the events it had not fanned out behind the cursors it had not moved: nothing committed is lost
(at-least-once).
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from payment_intent.domain.model import Event
from payment_intent.ports import Store
from payment_intent.webhooks import render
from payment_intent.webhooks.model import (
    Attempt,
    ClaimedDelivery,
    Endpoint,
    NewDelivery,
    Result,
    RetrySchedule,
)
from payment_intent.webhooks.signing import HEADERS, Scheme, sign
from payment_intent.webhooks.storage import FanOut, WebhookStore
from payment_intent.webhooks.transport import Answer, Transport

_LOG = logging.getLogger(__name__)

#: Events read from the feed per round.
FEED_BATCH = 500


@dataclass(frozen=True, slots=True)
class Source:
    """One mode's feed and its webhook store, with the schedule its deliveries follow."""

    store: Store
    hooks: WebhookStore
    schedule: RetrySchedule = field(default_factory=RetrySchedule.for_test_mode)


def feed_head(store: Store) -> int:
    """The sequence of the newest committed event (0 for an empty feed), found with a few
    ``read_events`` probes: galloping up, then halving the gap."""
    if not store.read_events(0, 1):
        return 0
    low, high = 0, 1  # an event lies after ``low``; none is known to lie after ``high``
    while store.read_events(high, 1):
        low, high = high, high * 2
    while high - low > 1:  # invariant: events after low, none after high
        middle = (low + high) // 2
        if store.read_events(middle, 1):
            low = middle
        else:
            high = middle
    return high


def plan_fan_out(
    endpoints: Sequence[Endpoint], events: Sequence[Event], undelivered: dict[str, int]
) -> list[FanOut]:
    """What ``fan_out`` should write for ``events`` (read after the lowest cursor): per endpoint,
    the events past its cursor that it wants, each rendered for it once."""
    rendered: dict[tuple[str, str | None, str], bytes] = {}
    plan: list[FanOut] = []
    for endpoint in endpoints:
        mine = [event for event in events if (event.sequence or 0) > endpoint.cursor]
        if not mine:
            continue
        news: list[NewDelivery] = []
        if endpoint.status == "enabled":
            for event in mine:
                if not endpoint.wants(event.type):
                    continue
                version = endpoint.api_version if endpoint.dialect != "payrex" else None
                key = (endpoint.dialect, version, event.id)
                body = rendered.get(key)
                if body is None:
                    pending = undelivered.get(event.id, 0) + sum(
                        1
                        for other in endpoints
                        if other.status == "enabled"
                        and other.cursor < (event.sequence or 0)
                        and other.wants(event.type)
                    )
                    body = rendered[key] = render.payload(event, endpoint.dialect, version, pending)
                news.append(
                    NewDelivery(endpoint.id, event.id, event.sequence or 0, event.type, body)
                )
        plan.append((endpoint.id, endpoint.cursor, mine[-1].sequence or 0, news))
    return plan


def attempt_outcome(
    target: str,
    event_id: str,
    number: int,
    started_at: float,
    answer: Answer,
    schedule: RetrySchedule,
) -> Attempt:
    """The attempt ``answer`` makes, with when the next is due under ``schedule``."""
    if answer.acknowledged:
        return Attempt(
            target, event_id, number, started_at, answer.duration, answer.status_code, None,
            "succeeded",
        )  # fmt: skip
    delay = schedule.delay_after(number)
    error = answer.error or f"the receiver answered {answer.status_code}"
    if delay is None:
        return Attempt(
            target, event_id, number, started_at, answer.duration, answer.status_code, error,
            "failed",
        )  # fmt: skip
    return Attempt(
        target, event_id, number, started_at, answer.duration, answer.status_code, error,
        "retrying", time.time() + delay,
    )  # fmt: skip


class DeliveryWorker:
    """Delivers the events of ``sources`` to their endpoints until stopped.

    ``sources`` is a list, or a function returning the current list (a server whose test data is
    reset replaces its in-memory store). ``concurrency`` senders share the work, at most
    ``per_endpoint`` of them on one endpoint; ``poll_interval`` is how often the feed is read when
    there is nothing else to do. New events wait until no event has been added for ``quiet``
    seconds, at most ``max_hold`` seconds (0 for either: deliver at once).
    """

    def __init__(
        self,
        sources: Sequence[Source] | Callable[[], Sequence[Source]],
        *,
        concurrency: int = 16,
        per_endpoint: int = 8,
        poll_interval: float = 0.05,
        quiet: float = 0.02,
        max_hold: float = 1.0,
        transport: Transport | None = None,
    ) -> None:
        if not 1 <= per_endpoint <= concurrency:
            raise ValueError("per_endpoint must be from 1 to concurrency.")
        if not poll_interval > 0:
            raise ValueError("poll_interval must be above 0 seconds.")
        if not (quiet >= 0 and max_hold >= 0):
            raise ValueError("quiet and max_hold must be 0 seconds or more.")
        self._sources = sources if callable(sources) else (lambda: sources)
        self.concurrency = concurrency
        self.per_endpoint = per_endpoint
        self.poll_interval = poll_interval
        self.quiet = quiet
        self.max_hold = max_hold
        self.transport = transport if transport is not None else Transport()
        #: Identifies this worker's leases.
        self.token = secrets.token_hex(8)
        self._results: queue.Queue[tuple[WebhookStore, Result]] = queue.Queue()
        self._in_flight: dict[str, int] = {}
        self._in_flight_total = 0
        #: The newest event seen in each store's feed, and since when new ones have been held.
        self._seen: dict[int, int] = {}
        self._holding_since: float | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._senders: ThreadPoolExecutor | None = None

    # -- running ---------------------------------------------------------------------------------

    def start(self) -> DeliveryWorker:
        """Run the loop in a daemon thread; returns the worker."""
        if self._thread is not None:
            raise RuntimeError("This worker is running already.")
        self._stopping.clear()
        self._senders = ThreadPoolExecutor(self.concurrency, thread_name_prefix="webhook-sender")
        self._thread = threading.Thread(target=self._loop, name="webhook-worker", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming; wait up to ``timeout`` seconds for the attempts in flight and record
        them (an attempt still running then is retried by whoever claims it after its lease)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        thread.join(timeout)
        if self._senders is not None:
            self._senders.shutdown(wait=False, cancel_futures=True)
        self.transport.close()

    def __enter__(self) -> DeliveryWorker:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def run_once(self) -> int:
        """One round, synchronously: fan out, send what is due, record; how many attempts were
        made. For tests and for callers with a scheduler of their own."""
        sources = list(self._sources())
        for source in sources:
            self._fan_out(source)
        made = 0
        for source in sources:
            now = time.time()
            for endpoint_id in source.hooks.due_endpoints(now):
                claimed = source.hooks.claim(
                    endpoint_id, now, self.per_endpoint, now + source.schedule.lease, self.token
                )
                results = [self._attempt(source, c) for c in claimed]
                source.hooks.record(results)
                made += len(results)
        return made

    def _loop(self) -> None:
        pause = self.poll_interval
        while not self._stopping.is_set():
            try:
                sources = list(self._sources())
                hold = self._hold(sources)
                if hold > 0:
                    self._record(wait=hold)
                    continue
                busy = sum(self._fan_out(source) for source in sources)
                busy += self._dispatch(sources)
                if not busy:  # caught up: the next new event may wait for a pause again
                    self._holding_since = None
                self._record(wait=0.0 if busy else pause)
                pause = self.poll_interval
            except Exception:  # a store that failed: say so, wait, and try again
                _LOG.exception("The webhook delivery loop failed; retrying shortly")
                pause = min(max(pause * 2, self.poll_interval), 5.0)
                self._stopping.wait(pause)
        deadline = time.monotonic() + 10.0
        while self._in_flight_total and time.monotonic() < deadline:
            try:
                self._record(wait=0.05)
            except Exception:
                _LOG.exception("Recording the last webhook attempts failed")
                break

    def _hold(self, sources: Sequence[Source]) -> float:
        """How long to wait before delivering: ``quiet`` seconds if events were added since the
        last look, but never past ``max_hold`` after the first of them was seen."""
        if not self.quiet:
            return 0.0
        added = False
        current = {id(source.store) for source in sources}
        # A reset replaces an in-memory store: forget the feeds no source reads any more.
        self._seen = {key: seen for key, seen in self._seen.items() if key in current}
        for source in sources:
            key = id(source.store)
            if key not in self._seen:  # a feed met for the first time: what it holds is not new
                self._seen[key] = feed_head(source.store)
                continue
            newer = source.store.read_events(self._seen[key], FEED_BATCH)
            if newer:
                added = True
                self._seen[key] = newer[-1].sequence or 0
        if not added:
            return 0.0
        now = time.monotonic()
        if self._holding_since is None:
            self._holding_since = now
        return max(0.0, min(self.quiet, self._holding_since + self.max_hold - now))

    # -- the three steps -------------------------------------------------------------------------

    def _fan_out(self, source: Source) -> int:
        endpoints = source.hooks.endpoints()
        if not endpoints:
            return 0
        events = source.store.read_events(min(e.cursor for e in endpoints), FEED_BATCH)
        if not events:
            return 0
        undelivered = source.hooks.undelivered([event.id for event in events])
        plan = plan_fan_out(endpoints, events, undelivered)
        source.hooks.fan_out(plan, time.time())
        return len(events)

    def _dispatch(self, sources: Sequence[Source]) -> int:
        assert self._senders is not None
        started = 0
        for source in sources:
            if self._in_flight_total >= self.concurrency:
                break
            now = time.time()
            for endpoint_id in source.hooks.due_endpoints(now):
                free = min(
                    self.per_endpoint - self._in_flight.get(endpoint_id, 0),
                    self.concurrency - self._in_flight_total,
                )
                if free <= 0:
                    continue
                claimed = source.hooks.claim(
                    endpoint_id, now, free, now + source.schedule.lease, self.token
                )
                for delivery in claimed:
                    self._in_flight[endpoint_id] = self._in_flight.get(endpoint_id, 0) + 1
                    self._in_flight_total += 1
                    self._senders.submit(self._send, source, delivery)
                    started += 1
        return started

    def _send(self, source: Source, claimed: ClaimedDelivery) -> None:
        try:
            result = self._attempt(source, claimed)
        except Exception as error:  # a bug, never a receiver's doing: keep the loop's count right
            _LOG.exception("A webhook attempt failed unexpectedly")
            answer = Answer(None, f"{type(error).__name__}: {error}", 0.0)
            result = self._result(source, claimed, time.time(), answer)
        self._results.put((source.hooks, result))

    def _attempt(self, source: Source, claimed: ClaimedDelivery) -> Result:
        delivery = claimed.delivery
        started = time.time()
        # Signed at each attempt with the wall clock: the body is the same, the timestamp fresh.
        signature = sign(
            delivery.body, claimed.secret, scheme=_scheme(claimed.dialect), timestamp=int(started),
            livemode=claimed.livemode,
        )  # fmt: skip
        answer = self.transport.post(
            claimed.url,
            delivery.body,
            {HEADERS[_scheme(claimed.dialect)]: signature},
            source.schedule.timeout,
        )
        return self._result(source, claimed, started, answer)

    def _result(
        self, source: Source, claimed: ClaimedDelivery, started: float, answer: Answer
    ) -> Result:
        delivery = claimed.delivery
        attempt = attempt_outcome(
            delivery.endpoint_id,
            delivery.event_id,
            delivery.attempts + 1,
            started,
            answer,
            source.schedule,
        )
        return Result(claimed, attempt)

    def _record(self, wait: float) -> None:
        """Record the finished attempts, one batch per webhook store; waits up to ``wait``
        seconds for the first."""
        try:
            hooks, result = self._results.get(timeout=wait) if wait else self._results.get_nowait()
        except queue.Empty:
            return
        batches: dict[int, tuple[WebhookStore, list[Result]]] = {}
        while True:
            batches.setdefault(id(hooks), (hooks, []))[1].append(result)
            endpoint_id = result.claimed.delivery.endpoint_id
            self._in_flight[endpoint_id] -= 1
            self._in_flight_total -= 1
            try:
                hooks, result = self._results.get_nowait()
            except queue.Empty:
                break
        for hooks, results in batches.values():
            hooks.record(results)


def _scheme(dialect: str) -> Scheme:
    return "payrex" if dialect == "payrex" else "casapay"
