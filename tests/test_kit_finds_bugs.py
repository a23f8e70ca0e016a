"""The kit earns its keep: PaymentIntentMachine finds planted rule violations and shrinks them.

Each test plants one bug (in a subclassed service, or in a patched domain function), runs the
machine as a user would, and checks that it fails on the broken rule with a short program: the
few steps that reach the bug, not the dozens Hypothesis first stumbled on.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from payment_intent import InMemoryStore, ManualClock, PaymentIntent, PaymentIntents
from payment_intent.adapters.simulated import SimulatedProcessor
from payment_intent.domain import expiry, holds, refunds
from payment_intent.domain.decisions import Decision, ProcessorCall
from payment_intent.domain.events import Change
from payment_intent.domain.status import CancellationReason, RefundStatus, Status
from payment_intent.service.commands import Command, Context
from payment_intent.testing import InvariantViolation, PaymentIntentMachine

HUNT = settings(
    database=None,  # every run starts from scratch: no replaying a failure found earlier
    derandomize=True,  # the same search each time, so the test cannot flake
    max_examples=300,
    stateful_step_count=20,
    deadline=None,
    phases=[Phase.generate, Phase.shrink],
)

_STEP = re.compile(r"^(?:\w+ = )?state\.(\w+)\(")
_CHECKS = {"spec_invariants_hold", "teardown"}
_ADVANCE = re.compile(r"state\.advance_clock\(seconds=(\d+)\)")


def hunt(
    machine: type[PaymentIntentMachine], hunting: settings = HUNT
) -> tuple[InvariantViolation, list[str]]:
    """Run ``machine`` until it fails; return the error and the rules of the shrunk program.

    Hypothesis attaches the shrunk program to the error as notes, one line per step
    (``intents_1 = state.authorize_hold(data=data(...))``), with the invariant checks between.
    """
    with pytest.raises(InvariantViolation) as failed:
        run_state_machine_as_test(machine, settings=hunting)
    steps = [m.group(1) for note in notes_of(failed.value) if (m := _STEP.match(note))]
    return failed.value, [step for step in steps if step not in _CHECKS]


def notes_of(error: BaseException) -> list[str]:
    return list(getattr(error, "__notes__", []))


def in_order(steps: list[str], *essential: str) -> bool:
    """Whether ``essential`` occurs in ``steps`` in this order (other steps may come between)."""
    remaining = iter(steps)
    return all(step in remaining for step in essential)


class PlantedBug(PaymentIntents):
    """A service whose ``operation`` stores a subtly wrong intent: ``damage`` of the right one."""

    operation = ""

    def damage(self, before: PaymentIntent, after: PaymentIntent) -> PaymentIntent:
        raise AssertionError("each planted bug says how it damages the intent")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        honest = self.loop.decide

        def broken(
            context: Context, command: Command, intent: PaymentIntent | None, now: int, **ids: str
        ) -> Decision:
            decision = honest(context, command, intent, now, **ids)
            if command.operation != self.operation or intent is None:
                return decision

            def damaged(change: Change) -> Change:
                return replace(change, intent=self.damage(intent, change.intent))

            if isinstance(decision, ProcessorCall):
                finish = decision.finish
                return replace(decision, finish=lambda outcome: damaged(finish(outcome)))
            return damaged(decision)

        self.loop.decide = broken


class CaptureKeepsTheHold(PlantedBug):
    """Captures, but forgets to zero ``amount_capturable``."""

    operation = "capture"

    def damage(self, before: PaymentIntent, after: PaymentIntent) -> PaymentIntent:
        return after.evolve(amount_capturable=before.amount_capturable)


class CancelForgetsWhen(PlantedBug):
    """Cancels, but forgets to set ``canceled_at``."""

    operation = "cancel"

    def damage(self, before: PaymentIntent, after: PaymentIntent) -> PaymentIntent:
        return after.evolve(canceled_at=None)


def machine_over(service: type[PaymentIntents], profile: str) -> type[PaymentIntentMachine]:
    class Machine(PaymentIntentMachine):
        def make_service(self, clock: ManualClock) -> PaymentIntents:
            return service(
                store=InMemoryStore(),
                clock=clock,
                processor=SimulatedProcessor(),
                profile=self.profile,
            )

    Machine.profile = profile
    Machine.__name__ = f"{service.__name__}Machine"
    return Machine


@pytest.mark.parametrize("profile", ["casapay", "payrex"])
def test_the_machine_catches_a_capture_that_keeps_the_hold_and_shrinks_it(profile: str) -> None:
    error, steps = hunt(machine_over(CaptureKeepsTheHold, profile))

    assert "amount_capturable > 0 exactly when the status is requires_capture" in str(error)
    assert "status succeeded" in str(error)
    # The essence: authorize a hold, capture it. Shrinking leaves (almost) nothing else.
    assert in_order(steps, "first_intent", "authorize_hold", "capture"), steps
    assert steps[-1] == "capture"
    # How far a hunt shrinks varies a little from run to run (intents' ids are random, and some
    # rules read lists the ids order): the bounds below hold in every run we have seen.
    assert len(steps) <= 10, steps


def test_the_machine_catches_a_cancel_that_forgets_canceled_at_and_shrinks_it() -> None:
    error, steps = hunt(machine_over(CancelForgetsWhen, "casapay"))

    assert "canceled_at is set exactly on canceled intents" in str(error)
    # Cancelling the intent every run starts with is all it takes.
    assert steps == ["first_intent", "cancel"], steps


def test_the_machine_catches_an_expiry_that_keeps_the_hold_and_shrinks_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_expire = expiry.expire

    def expire_keeping_the_hold(intent: PaymentIntent) -> Change:
        change = real_expire(intent)
        kept = change.intent.evolve(amount_capturable=intent.amount_capturable)
        return replace(change, intent=kept)

    monkeypatch.setattr(expiry, "expire", expire_keeping_the_hold)
    # Reaching the end of a hold's window takes a hold and a long clock step in the same run:
    # rarer among the kit's rules than a capture or a cancel, so the hunt draws longer.
    error, steps = hunt(machine_over(PaymentIntents, "casapay"), settings(HUNT, max_examples=1000))

    assert "amount_capturable > 0 exactly when the status is requires_capture" in str(error)
    assert "status canceled" in str(error)
    # A hold, the clock moved to the very end of its window, and a read that expires it.
    assert in_order(steps, "first_intent", "authorize_hold", "advance_clock"), steps
    assert len(steps) <= 5, steps
    moved = [int(m.group(1)) for n in notes_of(error) if (m := _ADVANCE.search(n))]
    assert sum(moved) == 7 * 24 * 3600, f"shrunk to {moved}, not to the window's boundary"


# -- after the hold: a bug planted in each new rule --------------------------------------------


def aimed(*rules: str) -> type[PaymentIntentMachine]:
    """The kit's machine over the real service, keeping only ``rules`` of the kit: a bug after
    the hold takes a hold and a few steps on it, which a hunt among every rule draws rarely."""
    return type("Aimed", (PaymentIntentMachine,), {"kit_rules": frozenset(rules)})


def _replace_hold(intent: PaymentIntent, **changes: Any) -> PaymentIntent:
    hold = intent.charges[-1].model_copy(update=changes)
    return intent.evolve(charges=(*intent.charges[:-1], hold))


def test_the_machine_catches_refunds_past_what_was_collected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The rule forgets the refunds already made: each refund may take all that was collected.
    monkeypatch.setattr(refunds, "refundable", lambda intent, charge: charge.amount_captured)
    error, steps = hunt(aimed("authorize_hold", "capture", "refund"))

    assert "total at most what was collected" in str(error)
    assert in_order(steps, "authorize_hold", "capture", "refund", "refund"), steps
    assert len(steps) <= 15, steps


class PartCaptureKeepsTheHold(PlantedBug):
    """A capture that keeps the rest held (multicapture) forgets to lower amount_capturable."""

    operation = "capture"

    def damage(self, before: PaymentIntent, after: PaymentIntent) -> PaymentIntent:
        if after.status is not Status.REQUIRES_CAPTURE:
            return after
        return after.evolve(amount_capturable=before.amount_capturable)


def test_the_machine_catches_a_partial_capture_that_keeps_the_whole_hold() -> None:
    machine = machine_over(PartCaptureKeepsTheHold, "casapay")
    machine.kit_rules = frozenset({"authorize_hold", "capture"})
    error, steps = hunt(machine)

    assert "money is conserved" in str(error)
    assert in_order(steps, "authorize_hold", "capture"), steps
    # The hold, its partial capture, and a refused capture or two left before the hold.
    assert len(steps) <= 6, steps


def test_the_machine_catches_an_increment_after_a_capture(monkeypatch: pytest.MonkeyPatch) -> None:
    real_increment = holds.increment

    def increment_even_after_a_capture(
        profile: Any, intent: PaymentIntent, *args: Any, **kwargs: Any
    ) -> ProcessorCall:
        captures = intent.charges[-1].captures if intent.charges else 0
        disguised = _replace_hold(intent, captures=0) if captures else intent
        call = real_increment(profile, disguised, *args, **kwargs)

        def finish(outcome: Any) -> Change:
            change = call.finish(outcome)
            return replace(change, intent=_replace_hold(change.intent, captures=captures))

        return replace(call, finish=finish)

    monkeypatch.setattr(holds, "increment", increment_even_after_a_capture)
    # Two grants (multicapture, increments), a capture that keeps the rest, then an increment.
    hunting = settings(HUNT, max_examples=1500)
    error, steps = hunt(aimed("authorize_hold", "capture", "increment_authorization"), hunting)

    assert "money is conserved" in str(error) or "never incremented after a capture" in str(error)
    assert in_order(steps, "authorize_hold", "capture", "increment_authorization"), steps
    # Shrinks worse than the others (13 steps, refusals on other intents left in): the rules
    # that aim at a hold draw it from the holds of the moment, which deleting a step reshuffles.
    assert len(steps) <= 15, steps


def test_the_machine_catches_a_partly_captured_hold_that_expires_canceled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_expire = expiry.expire

    def expire_always_canceling(intent: PaymentIntent) -> Change:
        change = real_expire(intent)
        if change.intent.status is not Status.SUCCEEDED:
            return change
        canceled = change.intent.evolve(
            status=Status.CANCELED,
            cancellation_reason=CancellationReason.AUTOMATIC,
            canceled_at=intent.capture_before_at,
        )
        return replace(change, intent=canceled)

    monkeypatch.setattr(expiry, "expire", expire_always_canceling)
    # A partial capture and the end of its window: as rare as the expiry hunt above.
    error, steps = hunt(
        aimed("authorize_hold", "capture", "advance_clock"), settings(HUNT, max_examples=1000)
    )

    assert "status canceled" in str(error)
    assert in_order(steps, "authorize_hold", "capture", "advance_clock"), steps
    # A hold, its partial capture, the window's end; clock steps before the hold may be left.
    assert len(steps) <= 15, steps


def test_the_machine_catches_a_failed_refund_counted_as_refunded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_refund = refunds.refund

    def refund_counting_failures(*args: Any, **kwargs: Any) -> ProcessorCall:
        call = real_refund(*args, **kwargs)

        def finish(outcome: Any) -> Change:
            change = call.finish(outcome)
            made = change.intent.refunds[-1]
            if made.status is not RefundStatus.FAILED:
                return change
            hold = change.intent.charges[-1]
            counted = _replace_hold(
                change.intent, amount_refunded=hold.amount_refunded + made.amount
            )
            return replace(change, intent=counted)

        return replace(call, finish=finish)

    monkeypatch.setattr(refunds, "refund", refund_counting_failures)
    error, steps = hunt(
        aimed("authorize_hold", "capture", "refund"), settings(HUNT, max_examples=1000)
    )

    assert "amount_refunded" in str(error) or "money is conserved" in str(error)
    assert in_order(steps, "authorize_hold", "capture", "refund"), steps
    # A hold, its capture, the refund; a refused capture or two may be left before the hold.
    assert len(steps) <= 7, steps
