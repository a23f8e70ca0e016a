"""``FaultMachine``: the kit's state machine with a processor and a store that fail on demand.

Every rule of :class:`~payment_intent.testing.machine.PaymentIntentMachine` runs over a
:class:`~payment_intent.testing.faults.FaultyProcessor` and a
:class:`~payment_intent.testing.faults.FaultyStore`; one more rule arms a drawn fault, another
retries an unanswered request with its idempotency key, as a client should. On top of the
lifecycle's invariants it checks what the library guarantees under faults (``docs/testing.md``):

- a request that failed answers 502 (processor) or 503 (store), and changed nothing a read shows;
- the processor never authorizes twice, nor captures or releases twice, for one intent, even when
  its replies are lost and the requests retried;
- once no attempt is in flight on an intent, the intent agrees with what the processor did.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from payment_intent.domain.errors import (
    ConcurrencyError,
    IdempotencyError,
    ProcessorUnavailableError,
    StorageUnavailableError,
)
from payment_intent.domain.expiry import as_of
from payment_intent.domain.model import PaymentIntent
from payment_intent.domain.outcomes import Approved
from payment_intent.domain.status import Status
from payment_intent.service import PaymentIntents
from payment_intent.testing.faults import (
    Fault,
    Faults,
    FaultyProcessor,
    FaultyStore,
    SimulatedCrash,
    faults,
)
from payment_intent.testing.machine import Call, PaymentIntentMachine

#: Processor calls that secure the customer's money (a hold, or the payment itself).
AUTHORIZING = frozenset({"authorize", "complete_authentication", "settle"})
#: Processor calls that each leave one mark on the intent's hold, once recorded: a capture (a
#: multicapture hold takes several), an increment (declined ones count), a refund (failed ones
#: too: a refund is recorded whatever the processor answered).
COUNTED = {"capture": "captures", "increment_authorization": "increments", "refund": "refunds"}


class FaultMachine(PaymentIntentMachine):
    """:class:`PaymentIntentMachine` with drawn faults at the processor and the store.

    Subclass it as you would the plain machine: ``make_service`` still says which service runs;
    the machine then builds another of its class over its store and processor, wrapped (a
    subclass's own ``__init__`` sees that one as ``self.service``).
    """

    #: Seconds (by the machine's clock) after which an abandoned attempt is settled.
    claim_lease = 60

    def __init__(self) -> None:
        super().__init__()
        self.service = self.with_faults(self.service)

    def with_faults(self, service: PaymentIntents) -> PaymentIntents:
        """Another service of ``service``'s class, over its store and processor wrapped."""
        self.faults = Faults(clock=self.clock)
        self.faulty_processor = FaultyProcessor(service.processor, self.faults)
        return type(service)(
            FaultyStore(service.store, self.faults),
            self.clock,
            self.faulty_processor,
            service.profile,
            livemode=service.livemode,
            claim_lease=self.claim_lease,
            # An intent whose attempt is in flight answers lock_timeout at once: no real waiting.
            claim_wait=0.0,
        )

    # -- running operations under faults -------------------------------------------------------

    def call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        before = self._reads()
        claimed_before = {i for i in self.known if self.service.store.claim(i) is not None}
        try:
            result = super().call(operation, *args, **kwargs)
        except SimulatedCrash as crash:
            result = crash
            written = crash.commit.intent
            if written is not None and written.id not in self.known:
                self.known.append(written.id)  # stored by a request whose reply never came
            key = kwargs.get("idempotency_key")
            if key is not None and key not in self.keyed:
                self.keyed[key] = Call(operation, args, kwargs, crash, self.clock.now())
        if is_retryable(result):
            self._nothing_changed(before, claimed_before)
        return result

    def check_call(self, call: Call) -> None:
        result = call.result
        if isinstance(result, ProcessorUnavailableError):
            assert (result.code, result.http_status) == ("processor_unavailable", 502), result
        elif isinstance(result, StorageUnavailableError):
            assert (result.code, result.http_status) == ("storage_unavailable", 503), result
        elif isinstance(result, IdempotencyError | ConcurrencyError) and result.http_status == 409:
            # An attempt left in flight by a fault: "retry later", as the library documents.
            assert result.code in ("idempotency_key_in_use", "lock_timeout"), result
        else:
            super().check_call(call)

    def _reads(self) -> dict[str, PaymentIntent | None]:
        return {intent_id: self.service.store.load(intent_id) for intent_id in self.known}

    def _nothing_changed(
        self, before: dict[str, PaymentIntent | None], claimed_before: set[str]
    ) -> None:
        """A request that failed changed nothing a read shows (a claim it met, lapsed, may have
        been settled on the way: that is another request's change)."""
        now = self.clock.now()
        for intent_id, was in before.items():
            if intent_id in claimed_before or was is None:
                continue
            stored = self.service.store.load(intent_id)
            assert stored is not None
            assert as_of(stored, now) == as_of(was, now), (
                f"a request that failed changed {intent_id}"
            )

    # -- rules ---------------------------------------------------------------------------------

    @rule(fault=faults())
    def arm_fault(self, fault: Fault) -> None:
        """The next call of the fault's point (after ``skip`` others) fails."""
        self.faults.arm(fault)

    def unanswered(self) -> list[str]:
        """Keys of requests that got no answer, or were told to retry: a retry with the key must
        settle them."""
        return sorted(
            key
            for key, call in self.keyed.items()
            if isinstance(call.result, SimulatedCrash) or is_retryable(call.result)
        )

    @precondition(lambda self: bool(self.unanswered()))
    @rule(data=st.data(), after_the_lease=st.booleans())
    def retry_unanswered(self, data: st.DataObject, after_the_lease: bool) -> None:
        """The client retries a request it got no answer to, with the same key."""
        key = data.draw(st.sampled_from(self.unanswered()), label="key")
        first = self.keyed.pop(key)
        if after_the_lease:
            self.clock.advance(self.claim_lease + 1)
        again = self.call(first.operation, *first.args, **first.kwargs)
        if first.operation == "create":
            self._created(again)
        # The key's record (if any) dates from the first request: replays are checked as of then.
        self.keyed[key] = dataclasses.replace(self.keyed[key], at=first.at)
        # Answered now: the machine's replay rule checks that the key never acts again.

    @rule()
    def expire_authorizations(self) -> None:
        try:
            expired = self.service.expire_authorizations()
        except (StorageUnavailableError, SimulatedCrash):
            return  # the sweep runs again; a failed round changed nothing it did not commit
        for intent in expired:
            if intent.status is Status.CANCELED:
                assert intent.cancellation_reason == "automatic"
            else:  # a multicapture hold that collected part: it succeeded for that part
                assert intent.status is Status.SUCCEEDED
                assert intent.amount_received > 0

    # -- what the processor did, against what the store says -----------------------------------

    def check_state(self, stored: dict[str, PaymentIntent]) -> None:
        super().check_state(stored)
        approved: dict[tuple[str, str], set[str]] = {}
        answered: dict[tuple[str, str], set[str]] = {}  # whatever the processor answered
        for act in self.faulty_processor.acts:
            answered.setdefault((act.intent_id, act.call), set()).add(act.attempt_id)
            if isinstance(act.outcome, Approved):
                kind = "authorized" if act.call in AUTHORIZING else act.call
                approved.setdefault((act.intent_id, kind), set()).add(act.attempt_id)
        for (intent_id, kind), attempts in approved.items():
            if kind in ("authorized", "release"):
                assert len(attempts) == 1, (
                    f"the processor {kind} {intent_id} {len(attempts)} times: {sorted(attempts)}"
                )
        for intent_id in {intent_id for intent_id, _ in answered}:
            if self.service.store.claim(intent_id) is not None:
                continue  # an attempt is in flight: the next request on the intent settles it
            found = stored.get(intent_id) or self.service.store.load(intent_id)
            assert found is not None, f"the processor acted for {intent_id}, which is not stored"
            intent = as_of(found, self.clock.now())
            authorized = (intent_id, "authorized") in approved
            charged = any(charge.status == "succeeded" for charge in intent.charges)
            assert authorized == charged, (
                f"{intent_id}: the processor authorized={authorized}, the intent says {charged}"
            )
            if (intent_id, "release") in approved:
                assert intent.status in (Status.SUCCEEDED, Status.CANCELED), intent.status
            for call, mark in COUNTED.items():
                if call == "capture":
                    # Only approved captures collect; a declined one leaves no mark.
                    acted = len(approved.get((intent_id, call), ()))
                else:
                    acted = len(answered.get((intent_id, call), ()))
                recorded = _marks(intent, mark)
                assert acted == recorded, (
                    f"{intent_id}: the processor made {acted} {call} calls, the intent records "
                    f"{recorded}"
                )


def _marks(intent: PaymentIntent, mark: str) -> int:
    """How many captures, increments or refunds (the caller's, not the window's) the intent
    records on its charges."""
    if mark == "refunds":
        return sum(1 for r in intent.refunds if r.reason != "expired_uncaptured_charge")
    return sum(getattr(charge, mark) for charge in intent.charges)


def is_retryable(result: Any) -> bool:
    """An answer that says "nothing was done yet, retry": the processor or the store failed, or
    an attempt left in flight holds the intent or the key."""
    if isinstance(result, ProcessorUnavailableError | StorageUnavailableError):
        return True
    return isinstance(result, IdempotencyError | ConcurrencyError) and result.code in (
        "idempotency_key_in_use",
        "lock_timeout",
    )
