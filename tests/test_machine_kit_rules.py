"""A subclass of the machine chooses which of the kit's rules run beside its own: ``kit_rules``."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import rule, run_state_machine_as_test

from payment_intent.testing import PaymentIntentMachine
from payment_intent.testing.machine import Call

REPEATABLE = settings(
    database=None,
    derandomize=True,
    max_examples=30,
    stateful_step_count=20,
    deadline=None,
    phases=[Phase.generate],
)


def test_the_machine_runs_every_kit_rule_unless_told_otherwise() -> None:
    assert "confirm" in PaymentIntentMachine.kit_rules
    assert len(PaymentIntentMachine.kit_rules) == 20


def test_a_subclass_runs_only_the_kit_rules_it_keeps() -> None:
    operations: Counter[str] = Counter()

    class ConfirmAndCancelOnly(PaymentIntentMachine):
        kit_rules = frozenset({"confirm", "cancel"})

        def check_call(self, call: Call) -> None:
            super().check_call(call)
            operations[call.operation] += 1

        def teardown(self) -> None:
            operations["runs"] += 1
            assert self.clock.now() == self.start_time, "advance_clock ran"

    run_state_machine_as_test(ConfirmAndCancelOnly, settings=REPEATABLE)
    assert operations["confirm"] > 0
    assert operations["cancel"] > 0
    assert operations["create"] == operations["runs"], "only each run's first intent is created"
    assert set(operations) == {"runs", "create", "confirm", "cancel"}, operations


def share_of_own_rule(kit_rules: frozenset[str] | None) -> float:
    """The share of steps a subclass's one rule takes, beside ``kit_rules`` (None: all)."""
    steps: Counter[str] = Counter()

    class WithOwnRule(PaymentIntentMachine):
        @rule()
        def own_rule(self) -> None:
            steps["own"] += 1

        def check_state(self, stored: Any) -> None:
            steps["all"] += 1  # after every step, and once after the first intent

    machine: type[PaymentIntentMachine] = WithOwnRule
    if kit_rules is not None:
        machine = type("WithOwnRuleAndFewerKitRules", (WithOwnRule,), {"kit_rules": kit_rules})
    run_state_machine_as_test(machine, settings=REPEATABLE)
    return steps["own"] / steps["all"]


def test_keeping_fewer_kit_rules_gives_the_subclass_s_own_rules_more_of_the_steps() -> None:
    beside_all = share_of_own_rule(None)
    beside_three = share_of_own_rule(frozenset({"confirm", "complete_action", "cancel"}))
    assert beside_three > 2 * beside_all, (beside_all, beside_three)


def test_a_kit_rule_name_the_kit_does_not_have_is_refused_with_the_names_it_has() -> None:
    with pytest.raises(TypeError, match=r"names no rule of the kit: \['confrim'\].*'confirm'"):

        class Misspelt(PaymentIntentMachine):
            kit_rules = frozenset({"confrim", "cancel"})


def test_a_single_name_is_refused_rather_than_read_as_its_letters() -> None:
    with pytest.raises(TypeError, match="a set of rule names, not 'confirm'"):

        class OneName(PaymentIntentMachine):
            kit_rules = "confirm"  # type: ignore[assignment]
