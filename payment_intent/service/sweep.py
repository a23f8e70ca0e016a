"""The expiry sweep: writes out the expiry of every hold past ``capture_before_at``.

Reads already show a lapsed hold as canceled (:func:`payment_intent.domain.expiry.as_of`); the
sweep stores that state and its ``payment_intent.canceled`` event, touching only the due holds,
which the store finds through an index. It also purges idempotency records past their day.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from payment_intent.domain import expiry
from payment_intent.domain.errors import PaymentIntentError
from payment_intent.domain.events import Change
from payment_intent.domain.model import PaymentIntent
from payment_intent.ports import BatchStore, Clock, Commit, Store
from payment_intent.service.loop import commit_quietly, events_of

if TYPE_CHECKING:
    from payment_intent.service.intents import PaymentIntents

#: Holds loaded and written per round of the sweep.
BATCH = 500


def expire_authorizations(store: Store, clock: Clock) -> list[PaymentIntent]:
    """Expire every due hold; returns the intents this sweep expired, soonest lapse first.

    A hold another request is changing at the same moment (or has claimed) is left to that
    request, which records the expiry itself if the hold is still due when it looks.
    """
    expired: list[PaymentIntent] = []
    while True:
        now = clock.now()
        store.purge_idempotency(now, BATCH)
        due = store.due_authorizations(now, BATCH)
        changes: list[tuple[PaymentIntent, Change]] = []
        for intent_id in due:
            intent = store.load(intent_id)
            if intent is not None and expiry.is_due(intent, now):
                changes.append((intent, expiry.expire(intent)))
        if isinstance(store, BatchStore):
            commits = [
                Commit(change.intent, intent.version, events_of(change, now))
                for intent, change in changes
            ]
            results = store.commit_many(commits)
            written = [
                change.intent
                for (_, change), lost in zip(changes, results, strict=True)
                if lost is None
            ]
        else:
            written = [
                change.intent
                for intent, change in changes
                if commit_quietly(store, change, intent, now)
            ]
        expired.extend(written)
        # A full batch of which nothing could be written is a batch of holds in other requests'
        # hands: they finish the job, and another round would only meet them again.
        if len(due) < BATCH or not written:
            return expired


class PeriodicSweep:
    """Runs the sweep for each of ``services`` every ``interval`` seconds on a thread of its own,
    so a long-running server emits the ``payment_intent.canceled`` of every lapsed hold without a
    caller asking for it. A failing round (the store unreachable) is retried at the next one."""

    def __init__(self, services: Iterable[PaymentIntents], interval: float = 1.0) -> None:
        self.services = list(services)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="expiry-sweep", daemon=True)

    def start(self) -> PeriodicSweep:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for service in self.services:
                with contextlib.suppress(PaymentIntentError):
                    service.expire_authorizations()
