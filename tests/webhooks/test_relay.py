"""The relay an embedding backend runs from its own worker: every committed event, in commit
order, handed to a callable or posted signed to a URL, with the same retries, and a cursor kept in
the store with the acknowledgement."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import stripe

from payment_intent import Event, InMemoryStore, ManualClock, PaymentIntents, SQLiteStore
from payment_intent.webhooks import RetrySchedule, WebhookRelay
from payment_intent.webhooks.sqlite import SQLiteWebhookStore
from tests.webhooks.receiver import Script, receiving

QUICK = RetrySchedule(max_attempts=3, first_delay=0.01, factor=1.0, timeout=1.0)


def service(store: object) -> PaymentIntents:
    return PaymentIntents(store, ManualClock(1706140800))  # type: ignore[arg-type]


def test_every_committed_event_is_handed_over_once_in_commit_order() -> None:
    svc = service(InMemoryStore())
    handed: list[Event] = []
    relay = WebhookRelay(svc.store, handed.append, name="orders")
    relay.run_once()  # the first run places the relay at the head of the feed
    paid = svc.create(amount=5000, currency="eur", payment_method="pm_card_visa", confirm=True)
    other = svc.create(amount=700, currency="eur")
    assert relay.run_once() == 3
    assert relay.run_once() == 0
    assert [(e.intent_id, e.type) for e in handed] == [
        (paid.id, "payment_intent.created"),
        (paid.id, "payment_intent.succeeded"),
        (other.id, "payment_intent.created"),
    ]
    state = relay.state()
    assert state is not None
    assert state.cursor == handed[-1].sequence
    assert [a.outcome for a in relay.attempts()] == ["succeeded"] * 3


def test_a_new_relay_starts_at_the_head_unless_asked_for_the_whole_feed() -> None:
    svc = service(InMemoryStore())
    svc.create(amount=100, currency="eur")
    later: list[Event] = []
    everything: list[Event] = []
    WebhookRelay(svc.store, later.append, name="later").run_once()
    WebhookRelay(svc.store, everything.append, name="all", from_beginning=True).run_once()
    assert later == []
    assert [e.type for e in everything] == ["payment_intent.created"]


def test_a_handler_that_fails_is_retried_and_the_events_behind_it_wait() -> None:
    svc = service(InMemoryStore())
    handed: list[str] = []
    failures = {"left": 2}

    def handler(event: Event) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("the database of orders is down")
        handed.append(event.id)

    relay = WebhookRelay(svc.store, handler, name="orders", schedule=QUICK)
    relay.run_once()
    first = svc.create(amount=100, currency="eur")
    second = svc.create(amount=200, currency="eur")
    deadline = time.monotonic() + 5
    while len(handed) < 2 and time.monotonic() < deadline:
        relay.run_once()
        time.sleep(0.01)
    assert handed == [f"evt_{first.id}_1_0", f"evt_{second.id}_1_0"]
    outcomes = [(a.number, a.outcome, a.error) for a in reversed(relay.attempts())]
    assert outcomes[:3] == [
        (1, "retrying", "RuntimeError: the database of orders is down"),
        (2, "retrying", "RuntimeError: the database of orders is down"),
        (3, "succeeded", None),
    ]


def test_after_the_last_attempt_the_event_is_recorded_failed_and_the_relay_moves_on() -> None:
    svc = service(InMemoryStore())
    seen: list[str] = []

    def handler(event: Event) -> None:
        if event.data.amount == 100:
            raise ValueError("never")
        seen.append(event.id)

    relay = WebhookRelay(svc.store, handler, name="orders", schedule=QUICK)
    relay.run_once()
    svc.create(amount=100, currency="eur")
    kept = svc.create(amount=200, currency="eur")
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        relay.run_once()
        time.sleep(0.01)
    assert seen == [f"evt_{kept.id}_1_0"]
    assert [a.outcome for a in reversed(relay.attempts())] == [
        "retrying", "retrying", "failed", "succeeded",
    ]  # fmt: skip


def test_a_relay_posts_signed_events_to_a_url() -> None:
    svc = service(InMemoryStore())
    with receiving(Script(fail_first=1)) as receiver:
        relay = WebhookRelay(svc.store, receiver.url, name="hook", secret="whsec_relay",
                             schedule=QUICK, from_beginning=True)  # fmt: skip
        made = svc.create(amount=100, currency="eur")
        deadline = time.monotonic() + 5
        while len(receiver.received) < 2 and time.monotonic() < deadline:
            relay.run_once()
            time.sleep(0.01)
    first, second = receiver.received
    assert first.body == second.body
    event = stripe.Webhook.construct_event(
        second.body, second.headers["stripe-signature"], "whsec_relay"
    )
    assert event.data.object.id == made.id


def test_a_relay_keeps_its_cursor_in_the_sqlite_file_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "backend.sqlite3"
    handed: list[str] = []
    svc = service(SQLiteStore(path))
    WebhookRelay(svc.store, lambda e: handed.append(e.id), name="orders",
                 hooks=SQLiteWebhookStore(path)).run_once()  # fmt: skip
    first = svc.create(amount=100, currency="eur")
    WebhookRelay(svc.store, lambda e: handed.append(e.id), name="orders",
                 hooks=SQLiteWebhookStore(path)).run_once()  # fmt: skip
    second = svc.create(amount=200, currency="eur")
    # A new process: new store objects over the same file; the relay resumes after `first`.
    reopened = SQLiteStore(path)
    WebhookRelay(reopened, lambda e: handed.append(e.id), name="orders",
                 hooks=SQLiteWebhookStore(path)).run_once()  # fmt: skip
    assert handed == [f"evt_{first.id}_1_0", f"evt_{second.id}_1_0"]


def test_two_copies_of_one_relay_hand_each_event_over_once(tmp_path: Path) -> None:
    path = tmp_path / "backend.sqlite3"
    svc = service(SQLiteStore(path))
    handed: list[str] = []
    lock = threading.Lock()

    def handler(event: Event) -> None:
        time.sleep(0.002)
        with lock:
            handed.append(event.id)

    relays = [
        WebhookRelay(SQLiteStore(path), handler, name="orders", hooks=SQLiteWebhookStore(path),
                     from_beginning=True)
        for _ in range(2)
    ]  # fmt: skip
    made = [svc.create(amount=100 + n, currency="eur").id for n in range(40)]
    stop = threading.Event()
    threads = [threading.Thread(target=r.run_forever, args=(stop, 0.01)) for r in relays]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while len(handed) < len(made) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(5)
    assert sorted(handed) == sorted(f"evt_{i}_1_0" for i in made)


def test_a_relay_refuses_a_url_it_cannot_post_to_or_sign() -> None:
    store = InMemoryStore()
    with pytest.raises(ValueError, match="secret"):
        WebhookRelay(store, "https://backend.example/hooks")
    from payment_intent.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError) as refused:
        WebhookRelay(store, "ftp://backend.example/hooks", secret="whsec_x")
    assert refused.value.param == "url"
