"""The relay: the event feed handed to a backend's own code, without the server.

A backend that embeds the library runs a :class:`WebhookRelay` from its own worker (a thread, a
cron job, a queue consumer). It hands each committed event, in commit order, to a callable or
posts it, signed, to a URL, with the delivery worker's rules: an event is acknowledged when the
callable returns (or the URL answers 2xx), retried on the schedule otherwise, and given up on,
recorded as failed, after the last attempt. The relay's cursor lives in the webhook store and moves
in the same transaction that records the acknowledgement, so a relay that stops (or is killed)
resumes with the first event it had not finished; several copies of one relay share its lease, and
only one of them hands over each event.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable

from payment_intent.domain.model import Event
from payment_intent.ports import Store
from payment_intent.webhooks import render
from payment_intent.webhooks.delivery import attempt_outcome, feed_head
from payment_intent.webhooks.model import Attempt, RelayState, RetrySchedule
from payment_intent.webhooks.resources import webhook_store_for
from payment_intent.webhooks.signing import HEADERS, Scheme, sign
from payment_intent.webhooks.storage import WebhookStore
from payment_intent.webhooks.transport import Answer, Transport

Handler = Callable[[Event], object]


class WebhookRelay:
    """Hands the committed events of ``store`` to ``target``, one at a time, in commit order.

    ``target`` is a callable taking the :class:`~payment_intent.Event` (raising means "not
    acknowledged") or a URL, to which the event is posted rendered in ``dialect`` and signed with
    ``secret``. ``name`` identifies the relay's cursor; a new relay starts with the events
    committed after it is first run (``from_beginning=True``: with the whole feed).
    """

    def __init__(
        self,
        store: Store,
        target: Handler | str,
        *,
        name: str = "default",
        secret: str | None = None,
        dialect: Scheme = "casapay",
        api_version: str | None = None,
        schedule: RetrySchedule | None = None,
        from_beginning: bool = False,
        hooks: WebhookStore | None = None,
        transport: Transport | None = None,
    ) -> None:
        if isinstance(target, str):
            from payment_intent.domain.params import parse
            from payment_intent.webhooks.params import WebhookUpdateParams

            parse(WebhookUpdateParams, {"url": target})  # an http(s) URL, or a typed error
            if not secret:
                raise ValueError("A relay that posts to a URL signs with a secret: pass secret=.")
        elif not callable(target):
            raise TypeError("target must be a callable or an http(s) URL.")
        if not name or len(name) > 200:
            raise ValueError("name must be 1 to 200 characters.")
        self.store = store
        self.target = target
        self.name = name
        self.secret = secret
        self.dialect: Scheme = dialect
        self.api_version = api_version
        self.schedule = schedule if schedule is not None else RetrySchedule.for_test_mode()
        self.from_beginning = from_beginning
        self.hooks = hooks if hooks is not None else webhook_store_for(store)
        self.transport = transport if transport is not None else Transport()

    @property
    def target_name(self) -> str:
        """How the relay's attempts are recorded: ``relay:<name>``."""
        return f"relay:{self.name}"

    def state(self) -> RelayState | None:
        """Where the relay stands, or ``None`` before its first run."""
        return self.hooks.relay_state(self.name)

    def attempts(self, limit: int = 100) -> list[Attempt]:
        """The relay's attempts, newest first."""
        return self.hooks.attempts(self.target_name, limit=limit)

    def run_once(self, limit: int = 100) -> int:
        """Hand over the events that are due, up to ``limit`` attempts; returns the attempts
        made. Stops at an event whose retry is not yet due, or when another copy holds the
        relay."""
        made = 0
        while made < limit:
            state = self.hooks.relay_state(self.name)
            start = 0
            if state is None:
                start = 0 if self.from_beginning else feed_head(self.store)
            elif not self.store.read_events(state.cursor, 1):
                break  # nothing new: no need to take the lease
            now = time.time()
            token = secrets.token_hex(8)
            leased = self.hooks.relay_lease(self.name, start, now, now + self.schedule.lease, token)
            if leased is None:
                break
            events = self.store.read_events(leased.cursor, 1)
            if not events:
                self.hooks.relay_record(
                    self.name, token, None, leased.cursor, leased.attempts, None
                )
                break
            event = events[0]
            attempt = self._hand_over(event, leased.attempts + 1)
            if attempt.outcome == "retrying":
                cursor, attempts = leased.cursor, attempt.number
            else:  # acknowledged, or given up on: the next event is next
                cursor, attempts = event.sequence or leased.cursor, 0
            made += 1
            if not self.hooks.relay_record(
                self.name, token, attempt, cursor, attempts, attempt.next_retry_at
            ):
                break  # the lease lapsed and another copy took over
            if attempt.outcome == "retrying":
                break
        return made

    def run_forever(self, stop: threading.Event, poll_interval: float = 0.2) -> None:
        """Run until ``stop`` is set, looking for new events every ``poll_interval`` seconds."""
        while not stop.is_set():
            if not self.run_once():
                stop.wait(poll_interval)

    def _hand_over(self, event: Event, number: int) -> Attempt:
        started = time.time()
        if callable(self.target):
            clock = time.perf_counter()
            try:
                self.target(event)
            except Exception as error:  # the backend's code said no: retried on the schedule
                text = f"{type(error).__name__}: {error}"[:500]
                answer = Answer(None, text, time.perf_counter() - clock)
            else:
                answer = Answer(200, None, time.perf_counter() - clock)
        else:
            assert self.secret is not None
            body = render.payload(event, self.dialect, self.api_version, pending_webhooks=1)
            header = sign(
                body, self.secret, scheme=self.dialect, timestamp=int(started),
                livemode=event.data.livemode,
            )  # fmt: skip
            answer = self.transport.post(
                self.target, body, {HEADERS[self.dialect]: header}, self.schedule.timeout
            )
        return attempt_outcome(self.target_name, event.id, number, started, answer, self.schedule)
