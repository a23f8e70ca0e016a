"""Work the reliability tests hand to threads and to separate processes.

Everything here is importable by a spawned child process and returns plain data, so the same
function runs on a thread of the test process or in a process of its own.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from payment_intent import PaymentIntent, PaymentIntents, SQLiteStore
from payment_intent.errors import PaymentIntentError
from payment_intent.ports import Store

#: ``("sqlite", path)`` or ``("postgres", dsn)``: a store each process opens for itself.
Target = tuple[str, str]

#: What a racing request did: ``(operation, intent id, amount_to_capture, result, error code)``;
#: ``result`` is the intent as JSON when the request succeeded.
Outcome = tuple[str, str, int | None, str | None, str | None]

OPERATIONS = ("capture", "cancel", "update", "confirm")


def open_store(target: Target) -> Store:
    kind, where = target
    if kind == "sqlite":
        return SQLiteStore(where)
    from payment_intent.adapters.postgres import PostgresStore

    return PostgresStore(where, max_size=8)


def wait_until(start_at: float) -> None:
    """Line racers up: every worker starts its requests at the same wall-clock moment."""
    time.sleep(max(0.0, start_at - time.time()))


def fire(
    service: PaymentIntents, intents: list[tuple[str, int]], seed: int, start_at: float
) -> list[Outcome]:
    """Send every operation to every intent, in a random order; record each request's outcome."""
    rng = random.Random(seed)
    requests = [(op, intent) for op in OPERATIONS for intent in intents]
    rng.shuffle(requests)
    outcomes: list[Outcome] = []
    wait_until(start_at)
    for n, (op, (intent_id, amount)) in enumerate(requests):
        amount_to_capture = rng.choice((None, amount // 2)) if op == "capture" else None
        try:
            if op == "capture":
                result = service.capture(intent_id, amount_to_capture=amount_to_capture)
            elif op == "cancel":
                result = service.cancel(intent_id, cancellation_reason="requested_by_customer")
            elif op == "update":
                result = service.update(intent_id, metadata={"racer": f"{seed}-{n}"})
            else:
                result = service.confirm(intent_id, payment_method="pm_card_visa")
        except PaymentIntentError as error:
            outcomes.append((op, intent_id, amount_to_capture, None, error.code))
        else:
            outcomes.append((op, intent_id, amount_to_capture, result.model_dump_json(), None))
    return outcomes


def race_in_process(
    target: Target, intents: list[tuple[str, int]], seed: int, start_at: float
) -> list[Outcome]:
    store = open_store(target)
    try:
        return fire(PaymentIntents(store), intents, seed, start_at)
    finally:
        store.close()


def same_keys_in_process(target: Target, keys: list[str], start_at: float) -> dict[str, Any]:
    """Create, confirm and capture one intent per key, each request with its own idempotency key;
    every process sends the very same requests. Returns what each request answered."""
    store = open_store(target)
    service = PaymentIntents(store)
    answers: dict[str, Any] = {}
    try:
        wait_until(start_at)
        for key in keys:
            created = _until_answered(
                lambda key=key: service.create(
                    amount=4200, currency="usd", capture_method="manual", idempotency_key=f"{key}-c"
                )
            )
            confirmed = _until_answered(
                lambda key=key, created=created: service.confirm(
                    created.id, payment_method="pm_card_visa", idempotency_key=f"{key}-f"
                )
            )
            captured = _until_answered(
                lambda key=key, created=created: service.capture(
                    created.id, idempotency_key=f"{key}-p"
                )
            )
            answers[key] = [r.model_dump_json() for r in (created, confirmed, captured)]
    finally:
        store.close()
    return answers


def _until_answered(request: Callable[[], PaymentIntent]) -> PaymentIntent:
    """Send a keyed request again while another process's request with the same key is still
    in progress, as a client does when told to try again later."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return request()
        except PaymentIntentError as error:
            if error.code != "idempotency_key_in_use" or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
