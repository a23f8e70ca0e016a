"""How often the testing page's shop machine finds the double-submit bug the page plants in it: with
all of the kit's rules, or with only the three a shop's intents meet (``kit_rules``), under the
settings the page's table lists.

Not a test (pytest does not collect it): run it from the repository's root and read the table.

    python tests/benchmarks/bench_kit_rules.py [--runs 20]

Each run starts from a different random seed (``--seed`` picks the first), as a user's CI would.
"""

from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis.stateful import run_state_machine_as_test

from payment_intent.testing import PaymentIntentMachine
from tests.test_docs import ROOT, python_blocks
from tests.test_testing_docs import double_submit_bug

PAGE = ROOT / "docs" / "testing.md"
SETTINGS = ((25, 20), (50, 30), (100, 30))


def shop_machine(page_rules: bool) -> type[PaymentIntentMachine]:
    """The page's ShopMachine over the page's shop.py with the page's bug planted in it."""
    blocks = {b.title: b.code for b in python_blocks(PAGE) if b.title}
    [(old, new)] = double_submit_bug().items()
    shop = types.ModuleType("shop")
    exec(compile(blocks["shop.py"].replace(old, new), "shop.py", "exec"), shop.__dict__)
    sys.modules["shop"] = shop
    test = types.ModuleType("test_shop")
    exec(compile(blocks["test_shop.py"], "test_shop.py", "exec"), test.__dict__)
    machine: type[PaymentIntentMachine] = test.ShopMachine
    if not page_rules:
        machine = type("AllKitRules", (machine,), {"kit_rules": PaymentIntentMachine.kit_rules})
    return machine


def found(machine: type[PaymentIntentMachine], examples: int, steps: int, start: int) -> bool:
    chosen = settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # found is the question; shrinking only adds time
        suppress_health_check=list(HealthCheck),
    )
    try:
        seed(start)(run_state_machine_as_test)(machine, settings=chosen)
    except AssertionError:
        return True
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    total = len(PaymentIntentMachine.kit_rules)
    print("| kit rules | settings | found in |\n|---|---|---|")
    for page_rules, label in ((False, f"all {total}"), (True, "the three above")):
        machine = shop_machine(page_rules)
        for examples, steps in SETTINGS:
            hits = sum(
                found(machine, examples, steps, options.seed + run) for run in range(options.runs)
            )
            shown = f"`max_examples={examples}, stateful_step_count={steps}`"
            print(f"| {label} | {shown} | {hits} of {options.runs} runs |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
