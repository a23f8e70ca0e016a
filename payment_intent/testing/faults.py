"""Seeded faults: a processor and a store that fail where Hypothesis says, so a failure shrinks.

Wrap the service's ports in :class:`FaultyProcessor` and :class:`FaultyStore` over one
:class:`Faults` plan, and arm the plan with faults drawn by :func:`faults`. Each fault fires once,
at the ``skip + 1``-th call of its point after it was armed; shrinking removes faults and lowers
``skip`` and ``seconds``, so a failing test ends with the one fault that matters.

A fault that waits (a timeout, a slow commit) moves a :class:`ManualClock` by its ``seconds``:
the service sees the time pass, without a test sleeping. What the library guarantees under each
fault is in ``docs/testing.md``; :class:`~payment_intent.testing.fault_machine.FaultMachine`
checks it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from hypothesis import strategies as st

from payment_intent.adapters.clocks import ManualClock
from payment_intent.domain.errors import parameter_invalid
from payment_intent.domain.model import Event, PaymentIntent
from payment_intent.domain.outcomes import Attempt, Outcome
from payment_intent.ports import (
    Claim,
    Commit,
    IdempotencyRecord,
    ListQuery,
    OperationalError,
    Processor,
    RefundQuery,
    Store,
)

#: The processor calls a fault can hit: every method of the ``Processor`` protocol that is asked
#: about an attempt (all but the ``payment_method`` look-up). Read from the protocol itself, so a
#: call added to it (a refund) can fail here without a change to this module.
PROCESSOR_CALLS: tuple[str, ...] = tuple(
    sorted(
        name
        for name, member in vars(Processor).items()
        if callable(member) and not name.startswith("_") and name != "payment_method"
    )
)

ProcessorFaultKind = Literal["unreachable", "timeout", "reply_lost"]
StoreFaultKind = Literal["unavailable", "slow", "crash_after_commit"]


@dataclass(frozen=True)
class ProcessorFault:
    """The processor fails at one call: of ``call``, or of any kind when ``call`` is ``None``.

    - ``unreachable``: the connection is refused at once; the processor did nothing.
    - ``timeout``: no answer within ``seconds``; the request never reached the processor.
    - ``reply_lost``: the processor acted, and its answer was lost after ``seconds``.

    The service cannot tell a timeout from a lost reply; the difference is what the processor did.
    """

    call: str | None
    kind: ProcessorFaultKind
    skip: int = 0
    seconds: int = 0

    @property
    def point(self) -> str:
        return f"processor.{self.call or '*'}"


@dataclass(frozen=True)
class StoreFault:
    """The store fails at one commit.

    - ``unavailable``: the commit raises ``OperationalError`` and writes nothing.
    - ``slow``: the commit is written ``seconds`` after it was sent (the clock moves meanwhile).
    - ``crash_after_commit``: the commit is written, then the process dies before it replies
      (:class:`SimulatedCrash`).
    """

    kind: StoreFaultKind
    skip: int = 0
    seconds: int = 0

    @property
    def point(self) -> str:
        return "store.commit"


Fault = ProcessorFault | StoreFault


class ProcessorUnreachable(ConnectionError):
    """A processor fault: the connection to the processor was refused."""


class ProcessorTimeout(TimeoutError):
    """A processor fault: no answer came in time (whether or not the processor acted)."""


class SimulatedCrash(Exception):
    """The process died after a commit, before its reply: nothing in the library may catch it,
    and the caller never hears what became of the request. ``commit`` is what it wrote."""

    def __init__(self, message: str, commit: Commit) -> None:
        super().__init__(message)
        self.commit = commit


class Faults:
    """The faults a run holds, shared by the wrappers: each fires once, then is ``fired``.

    :param planned: faults armed from the start.
    :param clock: the clock a timeout or a slow commit moves by its ``seconds``; a fault with
        ``seconds`` needs one.
    """

    def __init__(self, planned: Iterable[Fault] = (), *, clock: ManualClock | None = None) -> None:
        self.clock = clock
        self.pending: list[Fault] = []
        self.fired: list[Fault] = []
        for fault in planned:
            self.arm(fault)

    def arm(self, fault: Fault) -> None:
        """Make ``fault`` fire at the ``fault.skip + 1``-th call of its point from now on."""
        if isinstance(fault, ProcessorFault) and fault.call not in (None, *PROCESSOR_CALLS):
            raise parameter_invalid(
                "call", f"{fault.call!r} is not a processor call; expected one of {PROCESSOR_CALLS}"
            )
        if fault.skip < 0 or fault.seconds < 0:
            raise parameter_invalid("fault", "skip and seconds are never negative.")
        if fault.seconds and self.clock is None:
            raise parameter_invalid("clock", "A fault that takes time needs a ManualClock.")
        self.pending.append(fault)

    def take(self, point: str) -> Fault | None:
        """The fault that fires at this call of ``point``, if any (the first one armed there).
        ``fired`` keeps it as it fired: a processor fault of any call names the call it hit."""
        for index, fault in enumerate(self.pending):
            any_call = fault.point == "processor.*" and point.startswith("processor.")
            if fault.point != point and not any_call:
                continue
            if fault.skip:
                self.pending[index] = dataclasses.replace(fault, skip=fault.skip - 1)
                return None
            del self.pending[index]
            if isinstance(fault, ProcessorFault):
                fault = dataclasses.replace(fault, call=point.removeprefix("processor."))
            self.fired.append(fault)
            return fault
        return None

    def wait(self, seconds: int) -> None:
        if seconds:
            assert self.clock is not None  # arm() refused a fault with seconds and no clock
            self.clock.advance(seconds)


@dataclass(frozen=True)
class ProcessorAct:
    """A call that reached the processor: it acted, whether or not its answer came back."""

    call: str
    intent_id: str
    attempt_id: str
    outcome: Outcome
    reply_lost: bool


class FaultyProcessor:
    """A processor that fails where ``faults`` says, and records every call that reached it.

    Every call of the ``Processor`` protocol but ``payment_method`` is a fault point (see
    :data:`PROCESSOR_CALLS`); each takes the attempt (an ``Attempt``)
    first. ``acts`` is what the processor really did, lost replies included: what the money did.
    """

    def __init__(self, processor: Processor, faults: Faults) -> None:
        self.processor = processor
        self.faults = faults
        self.acts: list[ProcessorAct] = []

    def __getattr__(self, name: str) -> Any:
        # Only reached for names this class does not define: the protocol's calls, and the
        # wrapped processor's own attributes.
        found = getattr(self.processor, name)
        return self._faulty(name, found) if name in PROCESSOR_CALLS else found

    def _faulty(self, call: str, ask: Callable[..., Outcome]) -> Callable[..., Outcome]:
        def asked(attempt: Attempt, *args: Any) -> Outcome:
            fault = self.faults.take(f"processor.{call}")
            if fault is not None and fault.kind == "unreachable":
                raise ProcessorUnreachable(f"{call}: connection refused (a planted fault)")
            if fault is not None and fault.kind == "timeout":
                self.faults.wait(fault.seconds)
                raise ProcessorTimeout(f"{call}: no answer in time (a planted fault)")
            outcome = ask(attempt, *args)
            lost = fault is not None  # the one kind left: the processor acted, the reply is lost
            self.acts.append(
                ProcessorAct(call, attempt.intent_id, attempt.attempt_id, outcome, lost)
            )
            if fault is not None:
                self.faults.wait(fault.seconds)
                raise ProcessorTimeout(f"{call}: the answer was lost (a planted fault)")
            return outcome

        return asked


class FaultyStore:
    """A store whose commits fail, are slow, or crash after writing, where ``faults`` says.

    Every other call goes to ``store`` as it is. It is a plain ``Store``: a batch-writing store
    behind it is used one commit at a time, so each commit of a sweep can fail on its own.
    """

    def __init__(self, store: Store, faults: Faults) -> None:
        self.store = store
        self.faults = faults

    def commit(self, commit: Commit) -> None:
        fault = self.faults.take("store.commit")
        if fault is None:
            self.store.commit(commit)
        elif fault.kind == "unavailable":
            raise OperationalError("the database went away (a planted fault)")
        elif fault.kind == "slow":
            self.faults.wait(fault.seconds)
            self.store.commit(commit)
        else:
            self.store.commit(commit)
            raise SimulatedCrash("the process died after its commit (a planted fault)", commit)

    def load(self, intent_id: str) -> PaymentIntent | None:
        return self.store.load(intent_id)

    def idempotency_record(self, key: str) -> IdempotencyRecord | None:
        return self.store.idempotency_record(key)

    def claim(self, intent_id: str) -> Claim | None:
        return self.store.claim(intent_id)

    def claim_for_key(self, key: str) -> Claim | None:
        return self.store.claim_for_key(key)

    def purge_idempotency(self, now: int, limit: int) -> int:
        return self.store.purge_idempotency(now, limit)

    def list_intents(self, query: ListQuery) -> list[PaymentIntent]:
        return self.store.list_intents(query)

    def due_authorizations(self, now: int, limit: int) -> list[str]:
        return self.store.due_authorizations(now, limit)

    def refund_owner(self, refund_id: str) -> str | None:
        return self.store.refund_owner(refund_id)

    def list_refunds(self, query: RefundQuery) -> list[tuple[str, str]]:
        return self.store.list_refunds(query)

    def event_position(self, event_id: str) -> int | None:
        return self.store.event_position(event_id)

    def read_events(self, after_sequence: int, limit: int) -> list[Event]:
        return self.store.read_events(after_sequence, limit)

    def close(self) -> None:
        self.store.close()


#: How long a timeout or a slow commit takes: nothing, a moment, or just past a claim's lease
#: (60 s). Not a day: a commit that lands after its idempotency key's 24 hours have passed leaves
#: a retry nothing to replay (it is refused by the state the commit left, never run twice).
FAULT_SECONDS = st.sampled_from([0, 1, 61])


def processor_faults(calls: Iterable[str] = PROCESSOR_CALLS) -> st.SearchStrategy[ProcessorFault]:
    """Processor faults at the next call of any kind, or at one of ``calls``; they shrink
    towards the next call and no wait."""
    return st.builds(
        ProcessorFault,
        call=st.one_of(st.none(), st.sampled_from(sorted(calls))),
        kind=st.sampled_from(["unreachable", "timeout", "reply_lost"]),
        skip=st.integers(0, 2),
        seconds=FAULT_SECONDS,
    )


def store_faults() -> st.SearchStrategy[StoreFault]:
    """Store faults at a commit; they shrink towards the next commit and no wait."""
    return st.builds(
        StoreFault,
        kind=st.sampled_from(["unavailable", "slow", "crash_after_commit"]),
        skip=st.integers(0, 2),
        seconds=FAULT_SECONDS,
    )


def faults(calls: Iterable[str] = PROCESSOR_CALLS) -> st.SearchStrategy[Fault]:
    """One fault of either port. ``st.lists(faults())`` is a fault plan for :class:`Faults`."""
    return st.one_of(processor_faults(calls), store_faults())
