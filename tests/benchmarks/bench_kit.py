"""Time to a verdict of the kit's fault machine and webhook-handler harness, on the planted bugs
(found and shrunk) and on the code that is right (every example passes).

Not a test (pytest does not collect it): run it from the repository's root and read the figures.

    python tests/benchmarks/bench_kit.py

The searches are derandomized, as in the tests, so each verdict is the same run every time; the
figure is the median of ``--repeats`` runs, with the machine's load printed beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hypothesis.stateful import run_state_machine_as_test

from payment_intent.testing.fault_machine import FaultMachine
from tests.test_faults import (
    CHECK,
    AsksAgainWithANewAttempt,
    ForgetsUnansweredAttempts,
    hunt,
)
from tests.test_webhook_harness import Fulfilment, FulfilsTwice, Unverified, harness


def verdict(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        with contextlib.suppress(AssertionError):  # a planted bug's verdict is its failure
            run()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats
    cases: list[tuple[str, Callable[[], object]]] = [
        ("harness, handler that ships twice (found)", lambda: harness(FulfilsTwice, 150)),
        ("harness, handler that skips verify (found)", lambda: harness(Unverified, 150)),
        ("harness, fixed handler (150 examples pass)", lambda: harness(Fulfilment, 150)),
        ("faults, forgets an attempt (found)", lambda: hunt(ForgetsUnansweredAttempts)),
        ("faults, asks with a new attempt (found)", lambda: hunt(AsksAgainWithANewAttempt)),
        (
            "faults, library as it is (60 x 25 steps)",
            lambda: run_state_machine_as_test(FaultMachine, settings=CHECK),
        ),
    ]
    print(f"load average before: {os.getloadavg()}")
    for name, run in cases:
        print(f"{name:<46} {verdict(run, repeats):6.2f} s")
    print(f"load average after:  {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
