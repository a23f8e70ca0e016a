"""Crash: a child process runs checkout commands on an SQLite file and is killed with SIGKILL at
random moments, again and again.

After every kill the file is reopened and must hold a consistent history: every intent satisfies
SPEC section 5; every version of every intent was produced by exactly one recorded command, whose
events (and only those) are in the feed, gap-free; no event exists without its state change and no
state change without its events and idempotency record. The interrupted command, retried twice with
its idempotency key, gives one result and acts at most once.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import signal
import time
from collections import defaultdict
from pathlib import Path

from command_stream import Command, build, execute, run_until_killed
from history import assert_feed_is_gap_free, events_by_intent, read_feed

from payment_intent import ManualClock, PaymentIntent, PaymentIntents, SQLiteStore
from payment_intent.ports import ListQuery
from payment_intent.service.loop import Timing
from payment_intent.testing import assert_invariants

SEED, COUNT, KILLS = 20261122, 20_000, 24  # COUNT: more than 24 lives can reach
#: Children fork from a server that has imported the library once: each starts in milliseconds.
CLAIM_LEASE = Timing().claim_lease
CONTEXT = multiprocessing.get_context("forkserver")
CONTEXT.set_forkserver_preload(["payment_intent", "command_stream"])


def all_intents(store: SQLiteStore) -> list[PaymentIntent]:
    intents: list[PaymentIntent] = []
    query = ListQuery(limit=100, now=0)
    while page := store.list_intents(query):
        intents.extend(page)
        query = ListQuery(limit=100, now=0, after=(page[-1].created, page[-1].id))
    return intents


def assert_consistent(store: SQLiteStore, commands: list[Command], ids: dict[int, str]) -> None:
    """The history in ``store`` after ``commands`` ran (some perhaps cut short); learns the ids of
    the intents the create commands made."""
    produced: dict[tuple[str, int], list[tuple[str, PaymentIntent]]] = defaultdict(list)
    for command in commands:
        record = store.idempotency_record(command.key)
        if record is None:
            continue
        raw = record.response.get("intent") or record.response["error"].get("payment_intent")
        if raw is not None:
            intent = PaymentIntent.model_validate(raw)
            produced[(intent.id, intent.version)].append((command.op, intent))
            if command.op == "create":
                ids[command.index] = intent.id
    feed = read_feed(store)
    assert_feed_is_gap_free(feed)
    events = events_by_intent(feed)
    intents = all_intents(store)
    assert {intent_id for intent_id, _ in produced} == {intent.id for intent in intents}
    for intent in intents:
        assert_invariants(intent)
        for version in range(1, intent.version + 1):
            makers = produced.get((intent.id, version), [])
            assert len(makers) == 1, f"{intent.id} v{version} was produced by {len(makers)}"
            op, state = makers[0]
            emitted = events[intent.id].get(version, [])
            if op == "update":
                assert emitted == [], f"an update of {intent.id} emitted events"
            else:
                assert emitted, f"{intent.id} v{version} ({op}) has no events"
            assert all(event.data == state for event in emitted)
        assert produced[(intent.id, intent.version)][0][1] == intent
        assert max(events[intent.id]) <= intent.version, "an event without its state change"


def run_child(path: Path, start: int, ids: dict[int, str], lifetime: float) -> tuple[int, int]:
    """Run the stream from ``start`` in a child process, SIGKILL it ``lifetime`` seconds into it;
    returns the indexes of the command it began last and of the one it finished last (-1: none)."""
    progress = CONTEXT.RawArray("q", [-1, -1])
    child = CONTEXT.Process(
        target=run_until_killed, args=(str(path), SEED, COUNT, start, ids, progress)
    )
    child.start()
    # The lifetime counts from the first command, not from the child's start-up (building the
    # stream takes longer than a lifetime on a loaded machine, and a kill then interrupts nothing).
    deadline = time.monotonic() + 60
    while progress[0] < 0 and child.is_alive() and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(lifetime)
    child.kill()  # SIGKILL
    child.join(timeout=30)
    assert child.exitcode == -signal.SIGKILL, (
        f"the child must die by the kill, mid-stream; it exited with {child.exitcode}"
        " (0: it ran out of commands)"
    )
    return int(progress[0]), int(progress[1])


def test_sigkill_at_random_moments_loses_and_doubles_nothing(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    commands = build(SEED, COUNT)
    rng = random.Random(SEED)
    ids: dict[int, str] = {}
    start, interrupted_commands = 0, 0
    SQLiteStore(path).close()
    for _ in range(KILLS):
        last, finished = run_child(path, start, ids, rng.uniform(0.05, 0.2))
        with SQLiteStore(path) as store:
            assert_consistent(store, commands[: max(last + 1, start)], ids)
            if last < start:
                continue
            start = last + 1
            if finished == last:
                continue
            interrupted_commands += 1
            # The retry comes after the killed request's claim has lapsed, as a client's would:
            # a claim left between asking the processor and recording its answer is settled by
            # the next request once its lease is over (within it, a retry hears "in flight").
            past_the_lease = ManualClock(int(time.time()) + CLAIM_LEASE + 1)
            service = PaymentIntents(store, clock=past_the_lease)
            first = execute(service, commands[last], ids)
            before = (len(read_feed(store)), json.dumps(all_intents(store), default=str))
            again = execute(service, commands[last], ids)
            assert again == first, f"retrying command {last} gave another result"
            after = (len(read_feed(store)), json.dumps(all_intents(store), default=str))
            assert after == before, f"retrying command {last} acted twice"
            assert_consistent(store, commands[: last + 1], ids)
    assert start > 200, "the child made too little progress for the test to mean anything"
    assert interrupted_commands >= KILLS // 2, "most kills should land inside a command"
