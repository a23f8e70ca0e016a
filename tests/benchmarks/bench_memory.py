"""In-memory benchmark: manual-capture checkouts through the public service, and memory per intent.

Not a test (pytest does not collect it): run it and read the figures.

    python tests/benchmarks/bench_memory.py            # 5 repeats of 5,000 checkouts
    python tests/benchmarks/bench_memory.py --checkouts 1000 --repeats 3

A checkout is create (capture_method=manual), confirm with pm_card_visa, capture a part: three
commands, each validated, decided on the shared machine, committed with its events. It prints the
median time per checkout and checkouts per second after a warm-up, then the memory the in-memory
store holds per stored intent (tracemalloc, after ``--stored`` checkouts: the store keeps its 1,024
most recently written intents as live objects and packs the others, so the figure is for a store
well past that size, as ``run.py``'s memory workload measures it).
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

from payment_intent import InMemoryStore, ManualClock, PaymentIntents


def checkouts(service: PaymentIntents, count: int) -> None:
    for _ in range(count):
        intent = service.create(amount=120_000, currency="eur", capture_method="manual")
        service.confirm(intent.id, payment_method="pm_card_visa")
        service.capture(intent.id, amount_to_capture=100_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkouts", type=int, default=5_000)
    parser.add_argument("--stored", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    checkouts(PaymentIntents(store=InMemoryStore(), clock=ManualClock(1_706_140_800)), 500)
    seconds = []
    for _ in range(args.repeats):
        service = PaymentIntents(store=InMemoryStore(), clock=ManualClock(1_706_140_800))
        started = time.perf_counter()
        checkouts(service, args.checkouts)
        seconds.append((time.perf_counter() - started) / args.checkouts)
    median = statistics.median(seconds)
    print(
        f"manual-capture checkout, in memory: {median * 1e6:,.1f} µs median "
        f"({1 / median:,.0f} checkouts/s; {args.repeats} repeats of {args.checkouts:,})"
    )

    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    store = InMemoryStore()
    checkouts(PaymentIntents(store=store, clock=ManualClock(1_706_140_800)), args.stored)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    print(
        f"memory held by the store: {held / args.stored:,.0f} bytes per stored intent "
        "(its three versions' events included)"
    )


if __name__ == "__main__":
    main()
