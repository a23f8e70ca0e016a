"""A payment attempt reaches the processor once per attempt the store accepts.

Racing requests on one intent used to ask the processor each, then let the optimistic commit pick
the one outcome to record: behind a real gateway, every loser left a hold on the customer's card
that nothing recorded. Now a command claims its attempt in the store before it asks, so a racer
that loses the claim never asks. The processor here counts its calls in a file (so processes can
share the count) and takes 50 ms to answer, as a gateway does, so the racers really overlap.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from payment_intent import InMemoryStore, PaymentIntent, PaymentIntents, SQLiteStore
from payment_intent.adapters.simulated import SimulatedProcessor
from payment_intent.domain.outcomes import Attempt, Outcome
from payment_intent.errors import IdempotencyError, InvalidRequestError, PaymentIntentError
from payment_intent.ports import Store

GATEWAY_SECONDS = 0.05
RACERS = 8


class CountingProcessor(SimulatedProcessor):
    """The simulated processor, slow like a gateway, writing one line per call to ``log``."""

    def __init__(self, log: Path) -> None:
        super().__init__()
        self.log = log

    def _called(self, request: str, attempt: Attempt) -> None:
        with self.log.open("a") as log:
            log.write(f"{request} {attempt.intent_id} {attempt.attempt_id}\n")
        time.sleep(GATEWAY_SECONDS)

    def authorize(self, attempt: Attempt) -> Outcome:
        self._called("authorize", attempt)
        return super().authorize(attempt)

    def capture(self, attempt: Attempt, amount: int) -> Outcome:
        self._called("capture", attempt)
        return super().capture(attempt, amount)

    def release(self, attempt: Attempt) -> Outcome:
        self._called("release", attempt)
        return super().release(attempt)


def calls(log: Path, request: str) -> list[str]:
    lines = log.read_text().splitlines() if log.exists() else []
    return [line for line in lines if line.startswith(request + " ")]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    if request.param == "postgres":
        yield ("postgres", request.getfixturevalue("postgres_dsn"))
    else:
        yield (request.param, str(tmp_path / "intents.sqlite3"))


def open_store(target: tuple[str, str], shared: dict[str, Store]) -> Store:
    kind, where = target
    if kind == "memory":  # one store object is shared by the threads
        return shared.setdefault("memory", InMemoryStore())
    if kind == "sqlite":
        return SQLiteStore(where)
    from payment_intent.adapters.postgres import PostgresStore

    return PostgresStore(where)


def race(calls_: list[Callable[[], PaymentIntent]]) -> list[PaymentIntent | PaymentIntentError]:
    """Run each call on a thread of its own, all released at once; their results in order."""
    results: list[PaymentIntent | PaymentIntentError | None] = [None] * len(calls_)
    start = threading.Barrier(len(calls_))

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = calls_[index]()
        except PaymentIntentError as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls_))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(result is not None for result in results)
    return [result for result in results if result is not None]


def service(target: tuple[str, str], log: Path, shared: dict[str, Store]) -> PaymentIntents:
    return PaymentIntents(open_store(target, shared), processor=CountingProcessor(log))


def test_racing_confirms_ask_the_processor_once(
    store_target: tuple[str, str], tmp_path: Path
) -> None:
    log, shared = tmp_path / "processor.log", {}
    first = service(store_target, log, shared)
    intent = first.create(amount=5000, currency="eur", payment_method="pm_card_visa")

    results = race(
        [lambda: service(store_target, log, shared).confirm(intent.id) for _ in range(RACERS)]
    )

    assert len(calls(log, "authorize")) == 1
    paid = [r for r in results if isinstance(r, PaymentIntent)]
    assert len(paid) == 1
    assert paid[0].status == "succeeded"
    refused = [r for r in results if not isinstance(r, PaymentIntent)]
    assert all(
        isinstance(r, InvalidRequestError) and r.code == "payment_intent_unexpected_state"
        for r in refused
    ), refused
    assert first.retrieve(intent.id).charges == paid[0].charges


def test_racing_requests_with_one_key_act_once_and_the_rest_replay_or_hear_it_is_in_flight(
    store_target: tuple[str, str], tmp_path: Path
) -> None:
    log, shared = tmp_path / "processor.log", {}
    first = service(store_target, log, shared)
    intent = first.create(amount=5000, currency="eur", payment_method="pm_card_visa")

    results = race(
        [
            lambda: service(store_target, log, shared).confirm(intent.id, idempotency_key="k-1")
            for _ in range(RACERS)
        ]
    )

    assert len(calls(log, "authorize")) == 1
    paid = [r for r in results if isinstance(r, PaymentIntent)]
    assert paid, results
    assert all(r == paid[0] for r in paid), "every success is the one result"
    in_flight = [r for r in results if not isinstance(r, PaymentIntent)]
    for error in in_flight:
        assert isinstance(error, IdempotencyError), error
        assert (error.code, error.http_status) == ("idempotency_key_in_use", 409)
    # Once the first copy is done, a retry replays it without asking again.
    assert first.confirm(intent.id, idempotency_key="k-1") == paid[0]
    assert len(calls(log, "authorize")) == 1


def test_racing_captures_and_cancels_of_a_hold_reach_the_processor_once(
    store_target: tuple[str, str], tmp_path: Path
) -> None:
    log, shared = tmp_path / "processor.log", {}
    first = service(store_target, log, shared)
    held = first.create(
        amount=5000, currency="eur", capture_method="manual", payment_method="pm_card_visa"
    )
    held = first.confirm(held.id)

    def capture() -> PaymentIntent:
        return service(store_target, log, shared).capture(held.id)

    def cancel() -> PaymentIntent:
        return service(store_target, log, shared).cancel(held.id)

    results = race([capture, cancel] * (RACERS // 2))

    done = [r for r in results if isinstance(r, PaymentIntent)]
    assert len(done) == 1, results
    assert len(calls(log, "capture")) + len(calls(log, "release")) == 1


def _confirm_in_a_process(target: tuple[str, str], log: str, intent_id: str, start: float) -> str:
    svc = PaymentIntents(open_store(target, {}), processor=CountingProcessor(Path(log)))
    time.sleep(max(0.0, start - time.time()))
    try:
        return svc.confirm(intent_id, idempotency_key="same-key").status.value
    except PaymentIntentError as error:
        return error.code


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_racing_processes_ask_the_processor_once(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    target = (
        ("postgres", request.getfixturevalue("postgres_dsn"))
        if kind == "postgres"
        else ("sqlite", str(tmp_path / "intents.sqlite3"))
    )
    log = tmp_path / "processor.log"
    first = service(target, log, {})
    intent = first.create(amount=5000, currency="eur", payment_method="pm_card_visa")
    start = time.time() + 1.5  # every process is up before any of them confirms
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        answers: list[Any] = pool.starmap(
            _confirm_in_a_process, [(target, str(log), intent.id, start)] * 4
        )

    assert len(calls(log, "authorize")) == 1
    assert "succeeded" in answers
    assert set(answers) <= {"succeeded", "idempotency_key_in_use"}, answers
