"""The concurrent runner: workers send drawn calls at the same intents, and every call is recorded.

A :class:`Program` is what the workers will do: the intents created first, one after another, and
each worker's calls, each aimed at one of those intents (or creating one of its own).
:func:`programs` draws programs with Hypothesis, so a failing one shrinks to fewer, simpler calls;
:func:`run_concurrently` runs one on threads that share a store, or on processes that each open the
same durable store, and returns the :class:`~payment_intent.testing.calls.CallHistory` that
:func:`~payment_intent.testing.linearizability.assert_linearizable` judges.

A race shows only if the calls meet, so the runner provokes interleavings in two ways:

- every worker waits at a barrier before each of its calls, so the ``n``-th calls of all workers
  start together (a worker out of calls keeps meeting the barrier, so the others are not held up);
- on threads, the store is wrapped so that every read and every commit first yields the
  interpreter to another thread (``time.sleep(0)``). Without it, a thread may run a whole command
  in one time slice, between a load and its commit, and a store missing its version check would
  pass. Processes run truly in parallel and need no nudging.

The calls a program may make are the :data:`COMMANDS` table: one entry per operation, with the
arguments to draw. The service's clock stands still (at the plugin's ``START_TIME``), so holds
never lapse during a run and the replay answers at the same time.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from payment_intent.adapters.clocks import ManualClock
from payment_intent.adapters.memory import InMemoryStore
from payment_intent.adapters.simulated import SimulatedProcessor
from payment_intent.domain.errors import parameter_invalid
from payment_intent.domain.model import Event, PaymentIntent
from payment_intent.ports import (
    Claim,
    Commit,
    IdempotencyRecord,
    ListQuery,
    RefundQuery,
    Store,
)
from payment_intent.service import PaymentIntents
from payment_intent.stores import store_from_url
from payment_intent.testing.calls import MISSING_INTENT, Call, CallHistory, perform
from payment_intent.testing.plugin import START_TIME
from payment_intent.testing.sequences import Step

Kwargs = st.SearchStrategy[dict[str, Any]]

_CARDS = ["pm_card_visa", "pm_card_authenticationRequired", "pm_card_visa_chargeDeclined"]
_REASONS = ["requested_by_customer", "duplicate", "abandoned"]
_NOTES = st.sampled_from("abcdefgh")


@dataclass(frozen=True, slots=True)
class Command:
    """An operation a worker may call: the arguments to draw for it, and whether it names an
    intent (every operation but ``create``). The runner calls the service's method of that name:
    ``service.<name>(intent_id, **arguments)``."""

    arguments: Kwargs
    names_intent: bool = True


#: Every operation a program draws from; adding one is one entry here. Programs shrink towards
#: the first entries, so the reads and the least eventful calls come first.
COMMANDS: dict[str, Command] = {
    "retrieve": Command(st.just({})),
    "create": Command(
        st.fixed_dictionaries(
            {"amount": st.sampled_from([1000, 2500]), "currency": st.just("usd")},
            optional={
                "payment_method": st.sampled_from(_CARDS),
                "capture_method": st.just("manual"),
                "confirm": st.booleans(),
            },
        ),
        names_intent=False,
    ),
    "update": Command(
        st.one_of(
            st.fixed_dictionaries({"metadata": st.fixed_dictionaries({"note": _NOTES})}),
            st.fixed_dictionaries({"amount": st.sampled_from([1500, 3000])}),
            st.fixed_dictionaries({"payment_method": st.sampled_from(_CARDS)}),
        )
    ),
    "confirm": Command(
        st.fixed_dictionaries({}, optional={"payment_method": st.sampled_from(_CARDS)})
    ),
    "capture": Command(
        st.fixed_dictionaries(
            {},
            optional={
                "amount_to_capture": st.sampled_from([500, 1000]),
                "final_capture": st.booleans(),
            },
        )
    ),
    "cancel": Command(
        st.fixed_dictionaries({}, optional={"cancellation_reason": st.sampled_from(_REASONS)})
    ),
    "complete_action": Command(st.fixed_dictionaries({"succeed": st.booleans()})),
    "settle": Command(st.fixed_dictionaries({"succeed": st.booleans()})),
    "increment_authorization": Command(
        st.fixed_dictionaries({"amount": st.sampled_from([1500, 2000])})
    ),
    "refund": Command(st.fixed_dictionaries({}, optional={"amount": st.sampled_from([300, 700])})),
}

#: The intents a program starts from, one per status a race can start in.
STARTING_INTENTS: tuple[dict[str, Any], ...] = (
    {"amount": 1000, "currency": "usd"},  # requires_payment_method
    {"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa"},  # to confirm
    {  # requires_capture, granted multicapture and incremental authorization
        "amount": 1000,
        "currency": "usd",
        "payment_method": "pm_card_visa",
        "capture_method": "manual",
        "confirm": True,
        "payment_method_options": {
            "card": {
                "request_multicapture": "if_available",
                "request_incremental_authorization": "if_available",
            }
        },
    },
    {  # requires_action
        "amount": 1000,
        "currency": "usd",
        "payment_method": "pm_card_authenticationRequired",
        "confirm": True,
        "return_url": "https://shop.example/back",
    },
    {  # processing
        "amount": 1000,
        "currency": "usd",
        "payment_method": "pm_open_banking",
        "payment_method_types": ["card", "open_banking"],
        "confirm": True,
    },
    {"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True},  # paid
)


@dataclass(frozen=True, slots=True)
class Request:
    """One call a worker will make: ``step`` about the program's ``intent``-th intent (``None``
    for a create, which makes an intent of its own)."""

    intent: int | None
    step: Step


@dataclass(frozen=True, slots=True)
class Program:
    """The intents to create first (``create`` arguments, run in order), and each worker's calls."""

    intents: tuple[dict[str, Any], ...]
    workers: tuple[tuple[Request, ...], ...]


def _requests(intents: int, commands: list[str]) -> st.SearchStrategy[Request]:
    def request(name: str) -> st.SearchStrategy[Request]:
        command = COMMANDS[name]
        target = st.integers(0, intents - 1) if command.names_intent else st.none()
        return st.builds(Request, target, command.arguments.map(lambda kw: Step(name, kw)))

    return st.sampled_from(commands).flatmap(request)


def programs(
    workers: int = 3,
    calls: int = 20,
    intents: int = 2,
    *,
    min_calls: int = 0,
    commands: Collection[str] | None = None,
) -> st.SearchStrategy[Program]:
    """Programs of ``workers`` workers with ``min_calls`` to ``calls`` calls each, about up to
    ``intents`` intents (the CasaPay profile's; few intents, so that calls meet). They shrink to
    fewer calls, fewer intents and simpler arguments. ``commands`` narrows the operations drawn
    to some of :data:`COMMANDS` (all of them by default): the fewer, the oftener they meet."""
    for name, value in (("workers", workers), ("calls", calls), ("intents", intents)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise parameter_invalid(name, f"{name} must be a whole number of at least 1.")
    if isinstance(min_calls, bool) or not isinstance(min_calls, int) or not 0 <= min_calls <= calls:
        raise parameter_invalid("min_calls", "min_calls must be a whole number from 0 to calls.")
    drawn = [name for name in COMMANDS if commands is None or name in commands]
    unknown = sorted(set(commands or ()) - set(COMMANDS))
    if unknown or not drawn or isinstance(commands, str):
        raise parameter_invalid(
            "commands", f"commands must name some of: {', '.join(COMMANDS)}; got {commands!r}."
        )

    @st.composite
    def draw_program(draw: st.DrawFn) -> Program:
        starting = draw(st.lists(st.sampled_from(STARTING_INTENTS), min_size=1, max_size=intents))
        one_worker = st.lists(_requests(len(starting), drawn), min_size=min_calls, max_size=calls)
        plans = draw(st.lists(one_worker, min_size=workers, max_size=workers))
        return Program(tuple(starting), tuple(tuple(plan) for plan in plans))

    return draw_program()


def run_concurrently(
    program: Program,
    store: Store | None = None,
    *,
    store_url: str | None = None,
    processes: bool = False,
    profile: str = "casapay",
) -> CallHistory:
    """Run ``program`` and record every call.

    On threads (the default) the workers share one service over ``store`` (else the store
    ``store_url`` names, else a new in-memory store). With ``processes=True`` each worker is a
    process of its own that opens ``store_url`` itself: a durable store (SQLite, PostgreSQL) that
    every process reaches. The intents are created first, and read back last, by this process.

    :raises InvalidRequestError: naming ``store_url`` when processes are asked for without one,
        or ``program`` when it has no worker or aims a call at an intent it does not create.
    """
    _check_program(program)
    if processes and store_url is None:
        raise parameter_invalid("store_url", "Worker processes open the store by its URL.")
    if store is not None:
        return _run(program, store, store_url, processes, profile)
    opened = store_from_url(store_url) if store_url is not None else InMemoryStore()
    try:
        return _run(program, opened, store_url, processes, profile)
    finally:
        opened.close()


def _run(
    program: Program, store: Store, store_url: str | None, processes: bool, profile: str
) -> CallHistory:
    service = PaymentIntents(store, ManualClock(START_TIME), SimulatedProcessor(), profile)
    calls: list[Call] = []
    ids = [
        _call(service, "setup", n, Step("create", kw), None, calls)
        for n, kw in enumerate(program.intents)
    ]
    if processes:
        assert store_url is not None
        calls += _on_processes(program, ids, store_url, profile)
    else:
        racing = PaymentIntents(
            _Yielding(store), ManualClock(START_TIME), SimulatedProcessor(), profile
        )
        calls += _on_threads(program, ids, racing)
    for n, intent_id in enumerate(ids):
        _call(service, "final", n, Step("retrieve", {}), intent_id, calls)
    return CallHistory(tuple(calls), profile, START_TIME)


def _check_program(program: Program) -> None:
    if not isinstance(program, Program) or not program.workers:
        raise parameter_invalid("program", "A program is a Program with at least one worker.")
    for plan in program.workers:
        for request in plan:
            if request.intent is not None and not 0 <= request.intent < len(program.intents):
                raise parameter_invalid(
                    "program", f"A call aims at intent {request.intent}, which it does not create."
                )


def _call(
    service: PaymentIntents,
    worker: str,
    intent: int,
    step: Step,
    intent_id: str | None,
    record: list[Call],
) -> str:
    """Make one call and record it; the id of the intent it is about."""
    start = time.monotonic_ns()
    observation, about = perform(service, step, intent_id)
    record.append(Call(worker, intent, step, start, time.monotonic_ns(), observation))
    return about if about is not None else MISSING_INTENT


def _work(
    service: PaymentIntents,
    worker: str,
    plan: Sequence[Request],
    ids: list[str],
    first_created: int,
    rounds: int,
    wait: Callable[[], object],
) -> list[Call]:
    """One worker: before each round, ``wait`` until every worker is ready; then its call."""
    record: list[Call] = []
    created = first_created
    for n in range(rounds):
        wait()
        if n >= len(plan):
            continue
        request = plan[n]
        if request.intent is None:
            _call(service, worker, created, request.step, None, record)
            created += 1
        else:
            _call(service, worker, request.intent, request.step, ids[request.intent], record)
    return record


def _numbering(program: Program) -> list[int]:
    """The number of each worker's first own intent: created intents are numbered after the
    starting ones, a block per worker, so that numbers never depend on timing."""
    first = len(program.intents)
    numbers = []
    for plan in program.workers:
        numbers.append(first)
        first += sum(1 for request in plan if request.intent is None)
    return numbers


def _on_threads(program: Program, ids: list[str], service: PaymentIntents) -> list[Call]:
    rounds = max(len(plan) for plan in program.workers)
    barrier = threading.Barrier(len(program.workers), timeout=60)
    results: list[list[Call]] = [[] for _ in program.workers]
    failures: list[BaseException] = []

    def worker(n: int, first_created: int) -> None:
        try:
            results[n] = _work(
                service, f"t{n}", program.workers[n], ids, first_created, rounds, barrier.wait
            )
        except BaseException as failure:  # a bug in the code under test: stop every worker
            failures.append(failure)
            barrier.abort()

    threads = [
        threading.Thread(target=worker, args=(n, first), name=f"race-t{n}")
        for n, first in enumerate(_numbering(program))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return [call for result in results for call in result]


def _in_process(
    store_url: str,
    profile: str,
    worker: str,
    plan: tuple[Request, ...],
    ids: list[str],
    first_created: int,
    rounds: int,
    barrier: Any,
    results: Any,
) -> None:
    """A worker process: its own store connection and service; its calls go back by ``results``."""
    store = store_from_url(store_url)
    service = PaymentIntents(store, ManualClock(START_TIME), SimulatedProcessor(), profile)
    try:
        results.put(
            (worker, _work(service, worker, plan, ids, first_created, rounds, barrier.wait))
        )
    except BaseException as failure:
        barrier.abort()
        results.put((worker, repr(failure)))
    finally:
        store.close()


def _on_processes(program: Program, ids: list[str], store_url: str, profile: str) -> list[Call]:
    # Fresh interpreters forked from a server that imported the library once: quick to start,
    # and nothing of this process (its threads, its connections) is inherited.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["payment_intent.testing.concurrency"])
    rounds = max(len(plan) for plan in program.workers)
    barrier = context.Barrier(len(program.workers), timeout=60)
    results = context.SimpleQueue()
    workers = [
        context.Process(
            target=_in_process,
            args=(store_url, profile, f"p{n}", plan, ids, first, rounds, barrier, results),
        )
        for n, (plan, first) in enumerate(zip(program.workers, _numbering(program), strict=True))
    ]
    for process in workers:
        process.start()
    answers = dict(results.get() for _ in workers)
    for process in workers:
        process.join()
    calls: list[Call] = []
    for worker in sorted(answers):
        answer = answers[worker]
        if isinstance(answer, str):
            raise RuntimeError(f"Worker process {worker} failed: {answer}")
        calls += answer
    return calls


class _Yielding:
    """A store that lets another thread run before each read returns and before each commit, so
    that racing commands interleave between their load and their commit."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def load(self, intent_id: str) -> PaymentIntent | None:
        found = self.store.load(intent_id)
        time.sleep(0)
        return found

    def commit(self, commit: Commit) -> None:
        time.sleep(0)
        self.store.commit(commit)

    def idempotency_record(self, key: str) -> IdempotencyRecord | None:
        return self.store.idempotency_record(key)

    def claim(self, intent_id: str) -> Claim | None:
        held = self.store.claim(intent_id)
        time.sleep(0)
        return held

    def claim_for_key(self, key: str) -> Claim | None:
        return self.store.claim_for_key(key)

    def purge_idempotency(self, now: int, limit: int) -> int:
        return self.store.purge_idempotency(now, limit)

    def list_intents(self, query: ListQuery) -> list[PaymentIntent]:
        return self.store.list_intents(query)

    def due_authorizations(self, now: int, limit: int) -> list[str]:
        return self.store.due_authorizations(now, limit)

    def refund_owner(self, refund_id: str) -> str | None:
        return self.store.refund_owner(refund_id)

    def list_refunds(self, query: RefundQuery) -> list[tuple[str, str]]:
        return self.store.list_refunds(query)

    def event_position(self, event_id: str) -> int | None:
        return self.store.event_position(event_id)

    def read_events(self, after_sequence: int, limit: int) -> list[Event]:
        return self.store.read_events(after_sequence, limit)

    def close(self) -> None:
        self.store.close()
