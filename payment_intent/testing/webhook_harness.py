"""A harness for a shop's webhook handler: real events, delivered as the providers may deliver them.

:func:`webhook_handler_test` makes a Hypothesis test. Each example runs a few generated checkouts
through the service (each intent's metadata names its order, ``order_id``), renders and signs
their committed events exactly as a webhook delivery does, and delivers them to the handler on a
drawn schedule: any event, any number of times, in any order, with a valid signature, a stale one
(an old request replayed) or a forged one (an event rewritten to ``payment_intent.succeeded``,
signed without the secret). Then comes the provider's own delivery: every event once, in commit
order, and again, up to :data:`RETRIES` times, while the handler has not acknowledged it (a 2xx
answer to a valid request). So every drawn request is an extra one: early, duplicated or hostile.

After every delivery the user's ``always`` invariant is checked, and ``eventually`` once the last
one is in. A failure shrinks to the fewest checkouts and the shortest schedule that break it, and
is raised as :class:`DeliveryScheduleFailure`, which lists every request the handler received.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from hypothesis import given, note
from hypothesis import settings as Settings
from hypothesis import strategies as st

from payment_intent.adapters.clocks import ManualClock
from payment_intent.adapters.memory import InMemoryStore
from payment_intent.domain.model import Event, PaymentIntent
from payment_intent.service import PaymentIntents
from payment_intent.testing.sequences import Step, replay
from payment_intent.testing.strategies import checkout_sequences
from payment_intent.webhooks import render
from payment_intent.webhooks.signing import HEADERS, Scheme, sign
from payment_intent.webhooks.transport import Transport

#: A handler in process: the request's body and headers in, the HTTP status it answers out.
WebhookHandler = Callable[[bytes, Mapping[str, str]], int]
H = TypeVar("H", bound="WebhookHandler | str")

Signature = Literal["valid", "stale", "forged"]
#: Deliveries of an event after its first, while it is not acknowledged, as a provider retries.
RETRIES = 3
#: How old a stale signature is: past the SDKs' five-minute tolerance.
STALE_SECONDS = 3600
START = 1_706_140_800


@dataclass(frozen=True)
class Checkout:
    """One order's checkout as it ended: ``paid`` when its intent succeeded."""

    order_id: str
    intent: PaymentIntent

    @property
    def paid(self) -> bool:
        return self.intent.status == "succeeded"


@dataclass(frozen=True)
class Send:
    """One drawn request: an event of the feed, counted back from its newest (``0``: the last
    event), with a ``signature`` of a kind.

    Counted back, an early copy keeps aiming at the same event while Hypothesis drops the
    checkouts before it, so a failure shrinks to the one checkout it needs."""

    from_newest: int
    signature: Signature = "valid"


@dataclass(frozen=True)
class Delivered:
    """A request the handler received: the event and the type it claimed (a forged one claims
    ``payment_intent.succeeded``), and the status it answered (``None``: it raised)."""

    event_id: str
    type: str
    order_id: str
    signature: Signature
    status: int | None

    def __str__(self) -> str:
        return f"{self.type} ({self.order_id}, {self.signature} signature) -> {self.status}"


class DeliveryScheduleFailure(AssertionError):
    """The handler broke its invariant on this delivery schedule (``deliveries``, in order)."""

    def __init__(self, reason: str, deliveries: list[Delivered], checkouts: list[Checkout]):
        lines = "\n".join(f"  {n}. {d}" for n, d in enumerate(deliveries, 1))
        super().__init__(f"{reason}\nafter these deliveries:\n{lines}")
        self.deliveries = deliveries
        self.checkouts = checkouts


def webhook_handler_test(
    make_handler: Callable[[], H],
    *,
    secret: str,
    always: Callable[[H, list[Checkout]], None] | None = None,
    eventually: Callable[[H, list[Checkout]], None] | None = None,
    dialect: Scheme = "casapay",
    max_checkouts: int = 3,
    settings: Settings | None = None,
) -> Callable[[], None]:
    """A Hypothesis test of the handler ``make_handler`` returns (a fresh one per example).

    :param make_handler: a :data:`WebhookHandler`, or the URL of one on loopback (reset it here).
    :param secret: the endpoint's signing secret the handler verifies with.
    :param always: raises ``AssertionError`` if the handler's state is wrong after a delivery.
    :param eventually: the same, once every event has been delivered and retried.
    :param dialect: ``casapay`` (``Stripe-Signature``) or ``payrex`` (``Payrex-Signature``).
    """
    if not secret:
        raise ValueError("secret must be the endpoint's signing secret.")
    if dialect not in HEADERS:
        raise ValueError(f"dialect must be one of {sorted(HEADERS)}, not {dialect!r}.")
    if always is None and eventually is None:
        raise ValueError("Give always= or eventually=: the harness checks your invariant.")

    @given(data=st.data())
    def test(data: st.DataObject) -> None:
        drawn = data.draw(st.lists(_checkout(dialect), min_size=1, max_size=max_checkouts))
        checkouts, events = _run(drawn, dialect)
        schedule = data.draw(
            st.lists(
                st.builds(Send, st.integers(0, len(events) - 1), _SIGNATURES),
                max_size=2 * len(events),
            ),
            label="schedule",
        )
        handler = make_handler()
        _deliver(handler, schedule, events, checkouts, secret, dialect, always, eventually)

    return settings(test) if settings is not None else test


_SIGNATURES: st.SearchStrategy[Signature] = st.sampled_from(["valid", "stale", "forged"])


def _checkout(dialect: Scheme) -> st.SearchStrategy[list[Step]]:
    # The order id lives in the intent's metadata, where a shop puts it; no step may change it.
    def named(steps: list[Step]) -> list[Step]:
        first, *rest = steps
        kept = [
            step._replace(kwargs={**step.kwargs, "metadata": _without_order(step.kwargs)})
            if "metadata" in step.kwargs
            else step
            for step in rest
        ]
        return [first._replace(kwargs={**first.kwargs, "metadata": {}}), *kept]

    return checkout_sequences(dialect).map(named)


def _without_order(kwargs: dict[str, Any]) -> dict[str, str]:
    given = kwargs["metadata"]
    return {k: v for k, v in given.items() if k != "order_id"} if isinstance(given, dict) else {}


def _run(drawn: list[list[Step]], dialect: Scheme) -> tuple[list[Checkout], list[Event]]:
    """The checkouts run through one service, and the events they committed, in feed order."""
    service = PaymentIntents(InMemoryStore(), ManualClock(START), profile=dialect)
    ids: dict[str, str] = {}
    for number, steps in enumerate(drawn):
        order_id = f"order-{number}"
        first = steps[0]._replace(kwargs={**steps[0].kwargs, "metadata": {"order_id": order_id}})
        result = replay(service, [first, *steps[1:]])[0]
        created = getattr(result, "payment_intent", result)
        if isinstance(created, PaymentIntent):
            ids[order_id] = created.id
    checkouts = [Checkout(order, service.retrieve(i)) for order, i in ids.items()]
    events: list[Event] = []
    while True:
        page = service.events(starting_after=events[-1].id if events else None)
        events.extend(page.data)
        if not page.has_more:
            return checkouts, events


def _request(event: Event, signature: Signature, dialect: Scheme) -> bytes:
    """The body a request carries: the event as a delivery renders it, or a forger's rewrite."""
    body = render.payload(event, dialect, None, pending_webhooks=1)
    if signature == "forged":
        forged = json.loads(body)
        forged["type"] = "payment_intent.succeeded"
        body = json.dumps(forged, separators=(",", ":")).encode()
    return body


def _headers(body: bytes, signature: Signature, secret: str, dialect: Scheme) -> dict[str, str]:
    now = int(time.time())  # a delivery signs with the wall clock, as the providers do
    if signature == "stale":
        header = sign(body, secret, scheme=dialect, timestamp=now - STALE_SECONDS)
    elif signature == "forged":
        header = sign(body, f"{secret}-guessed", scheme=dialect, timestamp=now)
    else:
        header = sign(body, secret, scheme=dialect, timestamp=now)
    return {HEADERS[dialect]: header, "Content-Type": "application/json; charset=utf-8"}


def _deliver(
    handler: Any,
    schedule: list[Send],
    events: list[Event],
    checkouts: list[Checkout],
    secret: str,
    dialect: Scheme,
    always: Callable[[Any, list[Checkout]], None] | None,
    eventually: Callable[[Any, list[Checkout]], None] | None,
) -> None:
    transport = Transport() if isinstance(handler, str) else None
    orders = {c.intent.id: c.order_id for c in checkouts}
    delivered: list[Delivered] = []
    acknowledged: set[int] = set()

    def send(index: int, signature: Signature) -> None:
        event = events[index]
        body = _request(event, signature, dialect)
        headers = _headers(body, signature, secret, dialect)
        status: int | None
        if transport is not None:
            status = transport.post(handler, body, headers, timeout=5.0).status_code
        else:
            try:
                status = handler(body, headers)
            except Exception:  # a web framework answers 500, and the provider retries
                status = None
        if signature == "valid" and status is not None and 200 <= status < 300:
            acknowledged.add(index)
        claimed = json.loads(body)["type"]  # a forged request claims a payment succeeded
        sent = Delivered(event.id, claimed, orders.get(event.intent_id, "?"), signature, status)
        delivered.append(sent)
        note(f"delivered {len(delivered)}. {sent}")
        check(always, "always")

    def check(invariant: Callable[[Any, list[Checkout]], None] | None, name: str) -> None:
        if invariant is None:
            return
        try:
            invariant(handler, checkouts)
        except AssertionError as broken:
            # The assertion's own message, without pytest's rewritten explanation under it.
            reason = (str(broken) or "assertion failed").splitlines()[0]
            raise DeliveryScheduleFailure(
                f"{name}: {reason}", list(delivered), checkouts
            ) from broken

    for planned in schedule:
        send(len(events) - 1 - planned.from_newest, planned.signature)
    for index in range(len(events)):
        send(index, "valid")
    for _ in range(RETRIES):
        for index in range(len(events)):
            if index not in acknowledged:
                send(index, "valid")
    check(eventually, "eventually")
