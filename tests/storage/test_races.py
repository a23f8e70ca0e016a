"""Races: threads and separate processes fire capture, cancel, confirm and update at the same
intents, on SQLite and on PostgreSQL; idempotency keys sent from several processes act once.

Afterwards each intent has exactly one outcome, the money received is the one successful capture,
the versions successful requests produced are gap-free and unique, and every version has exactly
the events its request emits, carrying the state that request returned.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest
from history import assert_feed_is_gap_free, events_by_intent, read_feed
from workers import Outcome, Target, fire, open_store, race_in_process, same_keys_in_process

from payment_intent import PaymentIntent, PaymentIntents
from payment_intent.domain.status import EventType, Status
from payment_intent.testing import assert_invariants

WORKERS = 4
EXPECTED_EVENTS = {
    "capture": [EventType.SUCCEEDED],
    "cancel": [EventType.CANCELED],
    "update": [],
    "confirm": [EventType.AMOUNT_CAPTURABLE_UPDATED],
}


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "sqlite":
        yield ("sqlite", str(tmp_path / "races.db"))
    else:
        yield ("postgres", request.getfixturevalue("postgres_dsn"))


def seed_intents(service: PaymentIntents) -> list[tuple[str, int]]:
    """Six authorized holds and two intents awaiting confirmation, all with manual capture."""
    intents = [
        service.create(
            amount=1000 * (n + 1),
            currency="usd",
            payment_method="pm_card_visa",
            capture_method="manual",
            confirm=n < 6,
        )
        for n in range(8)
    ]
    return [(intent.id, intent.amount) for intent in intents]


def judge(service: PaymentIntents, outcomes: list[Outcome]) -> None:
    """Everything the module docstring promises, for every intent the racers touched."""
    feed = read_feed(service.store)
    assert_feed_is_gap_free(feed)
    by_intent = events_by_intent(feed)
    for intent_id in {outcome[1] for outcome in outcomes}:
        final = service.store.load(intent_id)
        assert final is not None
        assert_invariants(final)
        mine = [o for o in outcomes if o[1] == intent_id]
        refused = Counter(code for _, _, _, result, code in mine if result is None)
        assert set(refused) <= {"payment_intent_unexpected_state"}, refused
        won = [
            (op, amount, PaymentIntent.model_validate_json(r)) for op, _, amount, r, _ in mine if r
        ]

        terminal = [(op, amount, i) for op, amount, i in won if op in ("capture", "cancel")]
        assert len(terminal) == 1, f"{intent_id}: {len(terminal)} outcomes"
        op, amount_to_capture, _ = terminal[0]
        if op == "capture":
            assert final.status is Status.SUCCEEDED
            assert final.amount_received == (amount_to_capture or final.amount)
        else:
            assert final.status is Status.CANCELED
            assert final.amount_received == 0

        versions = sorted(intent.version for _, _, intent in won)
        assert versions == list(range(2, final.version + 1)), "versions must be gap-free, unique"
        events = by_intent[intent_id]
        assert set(events) == {1} | {i.version for op, _, i in won if EXPECTED_EVENTS[op]}
        for op, _, intent in won:
            emitted = events.get(intent.version, [])
            assert [e.type for e in emitted] == EXPECTED_EVENTS[op], (op, intent.version)
            assert all(e.data == intent for e in emitted)
        assert max(i.version for _, _, i in won) == final.version
        assert next(i for _, _, i in won if i.version == final.version) == final


def test_threads_racing_on_the_same_intents_settle_each_once(target: Target) -> None:
    store = open_store(target)
    service = PaymentIntents(store)
    try:
        intents = seed_intents(service)
        start_at = time.time() + 0.2
        with ThreadPoolExecutor(WORKERS) as pool:
            batches = list(pool.map(lambda seed: fire(service, intents, seed, start_at), range(6)))
        judge(service, [outcome for batch in batches for outcome in batch])
    finally:
        store.close()


def _in_processes(task: Callable[..., object], args: list[tuple[object, ...]]) -> list[object]:
    """Run ``task(*a)`` for each ``a`` in its own fresh interpreter, all at once."""
    context = multiprocessing.get_context("forkserver")  # fresh processes, started in ms
    context.set_forkserver_preload(["payment_intent", "workers"])
    with ProcessPoolExecutor(len(args), mp_context=context) as pool:
        futures = [pool.submit(task, *a) for a in args]
        return [future.result(timeout=120) for future in futures]


def test_processes_racing_on_the_same_intents_settle_each_once(target: Target) -> None:
    store = open_store(target)
    service = PaymentIntents(store)
    try:
        intents = seed_intents(service)
        start_at = time.time() + 1.0  # every process is up by then
        batches = _in_processes(
            race_in_process, [(target, intents, seed, start_at) for seed in range(WORKERS)]
        )
        judge(service, [outcome for batch in batches for outcome in batch])  # type: ignore[attr-defined]
    finally:
        store.close()


def test_the_same_idempotency_keys_from_several_processes_act_once(target: Target) -> None:
    keys = [f"order-{n}" for n in range(5)]
    start_at = time.time() + 1.0
    answers = _in_processes(same_keys_in_process, [(target, keys, start_at)] * WORKERS)
    first = answers[0]
    assert all(answer == first for answer in answers), "every process must get the same answers"
    store = open_store(target)
    try:
        feed = read_feed(store)
        assert_feed_is_gap_free(feed)
        assert Counter(event.type for event in feed) == {
            EventType.CREATED: len(keys),
            EventType.AMOUNT_CAPTURABLE_UPDATED: len(keys),
            EventType.SUCCEEDED: len(keys),
        }
        for key in keys:
            created, confirmed, captured = (
                PaymentIntent.model_validate(json.loads(raw))
                for raw in first[key]  # type: ignore[index]
            )
            assert created.id == confirmed.id == captured.id
            assert [created.version, confirmed.version, captured.version] == [1, 2, 3]
            assert store.load(created.id) == captured
            assert captured.amount_received == 4200
    finally:
        store.close()
