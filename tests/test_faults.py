"""Seeded faults: each wrapper fails as it says, the fault machine holds on the library as it is,
and it finds, and shrinks to the one fault that matters, two bugs a service could have under
faults: forgetting an attempt the processor did not answer, and asking again with a new attempt.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from payment_intent import InMemoryStore, ManualClock, PaymentIntents
from payment_intent.adapters.simulated import SimulatedProcessor
from payment_intent.domain.aggregate import ProcessorCall
from payment_intent.domain.errors import PaymentIntentError, ProcessorUnavailableError
from payment_intent.domain.outcomes import Approved, Outcome
from payment_intent.errors import InvalidRequestError, StorageUnavailableError
from payment_intent.ids import new_id
from payment_intent.ports import Commit, OperationalError, Processor
from payment_intent.service.loop import CommandLoop
from payment_intent.testing.fault_machine import FaultMachine
from payment_intent.testing.faults import (
    PROCESSOR_CALLS,
    Faults,
    FaultyProcessor,
    FaultyStore,
    ProcessorFault,
    ProcessorTimeout,
    ProcessorUnreachable,
    SimulatedCrash,
    StoreFault,
)

START = 1_706_140_800


def faulty_service(*planned: ProcessorFault | StoreFault) -> tuple[PaymentIntents, Faults]:
    clock = ManualClock(START)
    faults = Faults(planned, clock=clock)
    store = FaultyStore(InMemoryStore(), faults)
    processor = FaultyProcessor(SimulatedProcessor(), faults)
    return PaymentIntents(store, clock, processor, claim_wait=0.0), faults


# -- the wrappers ----------------------------------------------------------------------------------


def test_every_call_of_the_processor_protocol_but_the_method_look_up_is_a_fault_point() -> None:
    asked = {n for n in vars(Processor) if not n.startswith("_") and n != "payment_method"}
    assert set(PROCESSOR_CALLS) == asked
    assert {"authorize", "capture", "release"} <= asked


def test_an_unreachable_processor_did_nothing_and_a_lost_reply_did_act() -> None:
    service, faults = faulty_service(ProcessorFault("authorize", "unreachable"))
    processor = service.processor
    assert isinstance(processor, FaultyProcessor)
    intent = service.create(amount=1000, currency="eur", payment_method="pm_card_visa")
    with pytest.raises(ProcessorUnavailableError) as unreachable:
        service.confirm(intent.id)
    assert isinstance(unreachable.value.__cause__, ProcessorUnreachable)
    assert processor.acts == []

    faults.arm(ProcessorFault("authorize", "reply_lost", seconds=61))
    service.clock.advance(61)  # type: ignore[attr-defined]
    with pytest.raises(ProcessorUnavailableError) as lost:
        service.confirm(intent.id)  # settles the first claim, which asks: the reply is lost
    assert isinstance(lost.value.__cause__, ProcessorTimeout)
    [act] = processor.acts
    assert (act.call, act.intent_id, act.reply_lost) == ("authorize", intent.id, True)
    assert act.outcome == Approved()
    assert service.clock.now() == START + 122, "the lost reply took its 61 seconds"


def test_a_fault_fires_once_at_the_call_after_those_it_skips() -> None:
    service, faults = faulty_service(StoreFault("unavailable", skip=1))
    service.create(amount=1000, currency="eur")  # the skipped commit
    with pytest.raises(StorageUnavailableError):
        service.create(amount=1000, currency="eur")
    service.create(amount=1000, currency="eur")
    assert faults.pending == []
    assert faults.fired == [StoreFault("unavailable")]
    assert len(service.list().data) == 2, "the failed commit wrote nothing"


def test_a_processor_fault_of_any_call_names_the_call_it_hit_once_fired() -> None:
    service, faults = faulty_service(ProcessorFault(None, "unreachable"))
    held = service.create(amount=1000, currency="eur", capture_method="manual")
    with pytest.raises(ProcessorUnavailableError):
        service.confirm(held.id, payment_method="pm_card_visa")
    assert faults.fired == [ProcessorFault("authorize", "unreachable")]


def test_a_crash_after_commit_keeps_the_commit_and_a_slow_commit_lets_time_pass() -> None:
    service, faults = faulty_service(StoreFault("slow", seconds=86_401))
    service.create(amount=1000, currency="eur")
    assert service.clock.now() == START + 86_401
    faults.arm(StoreFault("crash_after_commit"))
    with pytest.raises(SimulatedCrash) as crashed:
        service.create(amount=1000, currency="eur", idempotency_key="order-7")
    written = crashed.value.commit.intent
    assert written is not None
    assert service.retrieve(written.id) == written
    # The client's retry with its key replays the commit that stood: one intent, not two.
    assert service.create(amount=1000, currency="eur", idempotency_key="order-7") == written
    assert len(service.list().data) == 2


def test_a_fault_is_refused_unless_it_names_a_processor_call_and_has_a_clock_to_wait_on() -> None:
    with pytest.raises(InvalidRequestError) as unknown:
        Faults([ProcessorFault("refund_twice", "timeout")])
    assert unknown.value.param == "call"
    with pytest.raises(InvalidRequestError) as no_clock:
        Faults([StoreFault("slow", seconds=1)])
    assert no_clock.value.param == "clock"
    with pytest.raises(OperationalError):
        FaultyStore(InMemoryStore(), Faults([StoreFault("unavailable")])).commit(Commit(None, 0))


# -- the machine on the library as it is --------------------------------------------------------

CHECK = settings(max_examples=60, stateful_step_count=25, deadline=None, database=None)


def test_the_library_keeps_its_guarantees_under_drawn_faults() -> None:
    run_state_machine_as_test(FaultMachine, settings=CHECK)


# -- planted bugs, found and shrunk ---------------------------------------------------------------

HUNT = settings(
    database=None,
    derandomize=True,
    max_examples=400,
    stateful_step_count=20,
    deadline=None,
    phases=[Phase.generate, Phase.shrink],
    report_multiple_bugs=False,  # one failure, the smallest, even where two checks could fail
)
_ARMED = re.compile(r"state\.arm_fault\(fault=(?P<fault>.*)\)$")


def hunt(service_class: type[PaymentIntents]) -> tuple[AssertionError, list[str]]:
    """Run the fault machine over ``service_class`` until it fails: the error, and the faults
    its shrunk program arms."""

    class Planted(FaultMachine):
        def make_service(self, clock: ManualClock) -> PaymentIntents:
            return service_class(InMemoryStore(), clock, SimulatedProcessor())

    with pytest.raises(AssertionError) as failed:
        run_state_machine_as_test(Planted, settings=HUNT)
    notes = getattr(failed.value, "__notes__", [])
    armed = [m["fault"] for note in notes if (m := _ARMED.search(note))]
    return failed.value, armed


def test_a_service_that_forgets_an_unanswered_attempt_is_caught_by_one_lost_reply() -> None:
    error, armed = hunt(ForgetsUnansweredAttempts)
    # The processor took the money; the store has no intent that says so (or one that denies it).
    assert re.search(
        r"acted for pi_\w+, which is not stored|authorized=True, the intent says"
        r"|the processor made 1 \w+ calls, the intent records 0",
        str(error),
    )
    print("\n".join(getattr(error, "__notes__", [])))
    assert len(armed) == 1, armed
    assert "kind='reply_lost'" in armed[0], "only a reply lost after the processor acted"


def test_a_service_that_asks_again_with_a_new_attempt_is_caught_charging_twice() -> None:
    error, armed = hunt(AsksAgainWithANewAttempt)
    assert re.search(
        r"the processor authorized pi_\w+ 2 times"
        r"|the processor made 2 \w+ calls, the intent records 1",
        str(error),
    ), error
    assert len(armed) == 1, armed
    assert "kind='reply_lost'" in armed[0], "only a reply lost after the processor acted"


class ForgetsUnansweredAttempts(PaymentIntents):
    """Planted bug: when the processor does not answer, the attempt is let go as if it had never
    reached the processor, so nothing settles what the processor did."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loop = ForgetfulLoop.like(self.loop)


class ForgetfulLoop(CommandLoop):
    @classmethod
    def like(cls, loop: CommandLoop) -> CommandLoop:
        return cls(
            loop.store,
            loop.clock,
            loop.processor,
            loop.context,
            max_retries=loop.max_retries,
            timing=loop.timing,
        )

    def ask(self, call: ProcessorCall) -> Outcome:
        try:
            return super().ask(call)
        except ProcessorUnavailableError:
            claim = self.store.claim(call.attempt.intent_id)
            if claim is not None:
                self.store.commit(Commit(None, claim.expected_version, settles=claim))
            raise


class AsksAgainWithANewAttempt(PaymentIntents):
    """Planted bug: a processor that does not answer is asked again at once, about a new
    attempt, which a gateway takes for a second payment."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loop = ImpatientLoop.like(self.loop)


class ImpatientLoop(ForgetfulLoop):
    def ask(self, call: ProcessorCall) -> Outcome:
        try:
            return CommandLoop.ask(self, call)
        except PaymentIntentError:
            attempt = call.attempt
            again = type(attempt)(**{**_fields(attempt), "attempt_id": new_id("att")})
            return CommandLoop.ask(
                self, ProcessorCall(call.request, again, call.finish, call.amount, call.succeed)
            )


def _fields(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__slots__}
