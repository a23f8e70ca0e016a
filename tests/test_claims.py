"""What an intent looks like while its attempt is at the processor, and after a crash there.

A command that needs the processor claims its attempt in the store, asks, then records the answer
in a second commit. These tests stop it between the two: a processor that fails to answer, and a
process that dies after claiming (a claim written and never settled).
"""

from __future__ import annotations

import pytest

from payment_intent import InMemoryStore, ManualClock, PaymentIntents
from payment_intent.adapters.simulated import SimulatedProcessor
from payment_intent.domain.outcomes import Attempt, Outcome
from payment_intent.errors import ConcurrencyError, PaymentIntentError, ProcessorUnavailableError
from payment_intent.ports import Claim, Commit

START = 1_706_140_800


class FlakyProcessor(SimulatedProcessor):
    """Fails to answer ``failures`` authorizations (a timeout at the gateway), then answers."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.asked: list[str] = []

    def authorize(self, attempt: Attempt) -> Outcome:
        self.asked.append(attempt.attempt_id)
        if self.failures:
            self.failures -= 1
            raise TimeoutError("the gateway did not answer in time")
        return super().authorize(attempt)


def test_a_processor_that_does_not_answer_is_a_retryable_502_and_the_attempt_stays_claimed() -> (
    None
):
    clock, store = ManualClock(START), InMemoryStore()
    processor = FlakyProcessor(failures=1)
    svc = PaymentIntents(store, clock, processor, claim_wait=0.05)
    intent = svc.create(amount=5000, currency="eur", payment_method="pm_card_visa")

    with pytest.raises(PaymentIntentError) as failed:
        svc.confirm(intent.id, idempotency_key="pay-1")
    assert (failed.value.code, failed.value.http_status) == ("processor_unavailable", 502)

    # The attempt may have reached the processor: the intent reads as before, and is not
    # confirmed again while the claim is live.
    assert svc.retrieve(intent.id) == intent
    assert store.claim(intent.id) is not None
    with pytest.raises(ConcurrencyError) as waited:
        svc.confirm(intent.id)
    assert waited.value.code == "lock_timeout"
    assert len(processor.asked) == 1

    # Past the lease, the next command settles the claim by asking about the same attempt.
    clock.advance(61)
    assert svc.confirm(intent.id, idempotency_key="pay-1").status == "succeeded"
    assert processor.asked[1] == processor.asked[0], "the same attempt is asked about again"
    assert store.claim(intent.id) is None


def test_a_claim_left_by_a_crashed_process_is_settled_by_the_next_command() -> None:
    clock, store = ManualClock(START), InMemoryStore()
    svc = PaymentIntents(store, clock)
    intent = svc.create(amount=5000, currency="eur", payment_method="pm_card_visa")
    # What a process that died after claiming its confirm leaves behind.
    store.commit(
        Commit(
            None,
            intent.version,
            claim=Claim(
                intent_id=intent.id,
                attempt_id="att_crashed",
                expected_version=intent.version,
                operation="confirm",
                params={},
                idempotency_key="crashed-key",
                fingerprint="",
                created=clock.now(),
                expires_at=clock.now() + 60,
            ),
        )
    )
    assert svc.retrieve(intent.id).status == "requires_confirmation"

    clock.advance(61)
    # An update now first settles the crashed confirm: the payment went through, so the
    # update of the amount is refused by the status the confirm left.
    with pytest.raises(PaymentIntentError) as refused:
        svc.update(intent.id, amount=6000)
    assert refused.value.code == "payment_intent_unexpected_state"
    settled = svc.retrieve(intent.id)
    assert settled.status == "succeeded"
    assert settled.version == intent.version + 1
    assert store.claim(intent.id) is None
    assert store.idempotency_record("crashed-key") is not None, "the crashed request can replay"


def test_a_processor_still_silent_when_the_claim_is_settled_is_said_again_not_waited_on() -> None:
    clock, store = ManualClock(START), InMemoryStore()
    processor = FlakyProcessor(failures=2)
    svc = PaymentIntents(store, clock, processor)
    intent = svc.create(amount=5000, currency="eur", payment_method="pm_card_visa")
    with pytest.raises(ProcessorUnavailableError):
        svc.confirm(intent.id)
    clock.advance(61)
    # The next command settles the claim first by asking again: still no answer, said at once.
    with pytest.raises(ProcessorUnavailableError):
        svc.update(intent.id, description="order 42")
    assert store.claim(intent.id) is not None
    clock.advance(61)
    # Now the processor answers: the claimed confirm is recorded, then the update applies.
    settled = svc.update(intent.id, description="order 42")
    assert (settled.status, settled.description) == ("succeeded", "order 42")
    assert len(set(processor.asked)) == 1, "one attempt, asked about three times"
