"""The linearizability checker judges hand-written histories as the definition says: a history
passes when some order that real time allows explains every answer, and fails otherwise, showing
the calls that prove it. The runner refuses programs it cannot run, naming what is wrong."""

from __future__ import annotations

import re

import pytest

from payment_intent import ManualClock, PaymentIntents
from payment_intent.errors import InvalidRequestError
from payment_intent.testing import NotLinearizable, assert_linearizable
from payment_intent.testing.calls import Call, CallHistory, Observation, perform
from payment_intent.testing.concurrency import Program, Request, programs, run_concurrently
from payment_intent.testing.linearizability import check_linearizable
from payment_intent.testing.plugin import START_TIME
from payment_intent.testing.sequences import Step

HOLD = {
    "amount": 1000,
    "currency": "usd",
    "payment_method": "pm_card_visa",
    "capture_method": "manual",
    "confirm": True,
}
CREATE = Step("create", HOLD)
CAPTURE = Step("capture", {})
CANCEL = Step("cancel", {})


def answers(*steps: Step) -> list[Observation]:
    """What the library answers to ``steps``, sent one at a time about one new intent."""
    service = PaymentIntents(clock=ManualClock(START_TIME))
    found: list[Observation] = []
    intent_id = None
    for step in steps:
        observation, intent_id = perform(service, step, intent_id)
        found.append(observation)
    return found


def history(*calls: tuple[str, Step, int, int, Observation]) -> CallHistory:
    """Calls on intent 0: (worker, step, start, end, answer), times in any unit."""
    return CallHistory(
        tuple(Call(worker, 0, step, start, end, seen) for worker, step, start, end, seen in calls),
        "casapay",
        START_TIME,
    )


def test_two_overlapping_captures_one_refused_are_explained_by_either_order() -> None:
    created, captured, refused = answers(CREATE, CAPTURE, CAPTURE)
    assert refused.code == "payment_intent_unexpected_state"
    racing = history(
        ("setup", CREATE, 0, 1, created),
        ("t0", CAPTURE, 2, 10, refused),  # started first, yet ordered second
        ("t1", CAPTURE, 3, 9, captured),
    )
    assert check_linearizable(racing).linearizable
    assert_linearizable(racing)


def test_two_captures_that_both_succeeded_have_no_order() -> None:
    created, captured = answers(CREATE, CAPTURE)
    racing = history(
        ("setup", CREATE, 0, 1, created),
        ("t0", CAPTURE, 2, 10, captured),
        ("t1", CAPTURE, 3, 9, captured),
    )
    with pytest.raises(NotLinearizable) as found:
        assert_linearizable(racing)
    assert found.value.verdict.counterexample == racing.calls
    shown = str(found.value)
    assert "No order of these 3 calls on intent 0" in shown
    assert re.findall(r"t\d +[\d.-]+ ms +capture\(\)\n +-> (.*)", shown) == [
        "succeeded v2 received=1000",
        "succeeded v2 received=1000",
    ]


def test_a_refusal_that_returned_before_the_capture_started_cannot_follow_it() -> None:
    created, captured, refused = answers(CREATE, CAPTURE, CAPTURE)
    in_sequence = history(
        ("setup", CREATE, 0, 1, created),
        ("t0", CAPTURE, 2, 3, refused),  # returned before t1's capture began
        ("t1", CAPTURE, 4, 5, captured),
    )
    assert not check_linearizable(in_sequence).linearizable


def test_a_capture_and_a_cancel_that_both_won_are_cut_down_to_the_two_and_the_create() -> None:
    created, captured, refused_cancel, read = answers(CREATE, CAPTURE, CANCEL, Step("retrieve", {}))
    [canceled] = answers(CREATE, CANCEL)[1:]
    racing = history(
        ("setup", CREATE, 0, 1, created),
        ("t0", CAPTURE, 2, 10, captured),
        ("t1", CANCEL, 3, 9, canceled),
        ("t2", CANCEL, 4, 8, refused_cancel),  # a refusal and a read take no part in the bug
        ("final", Step("retrieve", {}), 11, 12, read),
    )
    verdict = check_linearizable(racing)
    assert not verdict.linearizable
    assert [call.worker for call in verdict.counterexample] == ["setup", "t0", "t1"]


def test_an_answer_that_says_nothing_was_done_fits_anywhere() -> None:
    created, captured = answers(CREATE, CAPTURE)
    busy = Observation("lock_timeout", None, wrote=False)
    racing = history(
        ("setup", CREATE, 0, 1, created),
        ("t0", CAPTURE, 2, 3, busy),
        ("t1", CAPTURE, 4, 5, captured),
    )
    assert check_linearizable(racing).linearizable


def test_the_runner_refuses_a_call_aimed_at_an_intent_the_program_does_not_create() -> None:
    program = Program((HOLD,), ((Request(1, CAPTURE),),))
    with pytest.raises(InvalidRequestError) as refused:
        run_concurrently(program)
    assert refused.value.param == "program"


def test_worker_processes_need_a_store_they_can_each_open() -> None:
    program = Program((HOLD,), ((Request(0, CAPTURE),),))
    with pytest.raises(InvalidRequestError) as refused:
        run_concurrently(program, processes=True)
    assert refused.value.param == "store_url"


@pytest.mark.parametrize("name", ["workers", "calls", "intents", "min_calls"])
def test_programs_refuses_sizes_that_are_not_whole_numbers_naming_them(name: str) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        programs(**{name: -1})
    assert refused.value.param == name
