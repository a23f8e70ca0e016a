"""Time to a verdict of the kit's fault machine and webhook-handler harness, on the planted bugs
(found and shrunk) and on the code that is right (every example passes).

Not a test (pytest does not collect it): run it from the repository's root and read the figures.

    python tests/benchmarks/bench_kit.py

The searches are derandomized, as in the tests, so each verdict is the same run every time; the
figure is the median of ``--repeats`` runs, with the machine's load printed beside it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hypothesis.stateful import run_state_machine_as_test

from payment_intent import PaymentIntents
from payment_intent.testing.fault_machine import FaultMachine
from tests.test_faults import (
    CHECK,
    AsksAgainWithANewAttempt,
    ForgetsUnansweredAttempts,
    hunt,
)
from tests.test_webhook_harness import Fulfilment, FulfilsTwice, Unverified, harness


def verdict(run: Callable[[], object], repeats: int) -> tuple[float, str]:
    """The median time to a verdict over ``repeats`` runs, and the verdicts seen."""
    times, verdicts = [], set()
    for _ in range(repeats):
        began = time.perf_counter()
        try:
            verdicts.add(str(run() or "passed"))
        except AssertionError:  # the harness's verdict on a planted bug is its failure
            verdicts.add("bug found")
        times.append(time.perf_counter() - began)
    return statistics.median(times), " and ".join(sorted(verdicts))


def hunted(service_class: type[PaymentIntents]) -> str:
    """``hunt`` returns once the fault machine failed on the planted bug (it fails otherwise)."""
    _, armed = hunt(service_class)
    return f"bug found, shrunk to {len(armed)} fault"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    repeats = arguments.repeats
    cases: list[tuple[str, Callable[[], object]]] = [
        ("harness, handler that ships twice (found)", lambda: harness(FulfilsTwice, 150)),
        ("harness, handler that skips verify (found)", lambda: harness(Unverified, 150)),
        ("harness, fixed handler (150 examples pass)", lambda: harness(Fulfilment, 150)),
        ("faults, forgets an attempt (found)", lambda: hunted(ForgetsUnansweredAttempts)),
        ("faults, asks with a new attempt (found)", lambda: hunted(AsksAgainWithANewAttempt)),
        (
            "faults, library as it is (60 x 25 steps)",
            lambda: run_state_machine_as_test(FaultMachine, settings=CHECK),
        ),
    ]
    if arguments.case is not None:
        name, run = cases[arguments.case]
        seconds, seen = verdict(run, repeats)
        print(f"{name:<46} {seconds:6.2f} s  {seen}", flush=True)
        return 0
    # Each case in a process of its own, as a user's test run meets it: what a search draws
    # depends on what the process has loaded (Hypothesis draws constants from the code it finds).
    print(f"load average before: {os.getloadavg()}")
    for number in range(len(cases)):
        command = [sys.executable, __file__, "--case", str(number), "--repeats", str(repeats)]
        subprocess.run(command, check=True)
    print(f"load average after:  {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
