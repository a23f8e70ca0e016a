"""The linearizability verdict on a concurrent run: could the calls have happened one at a time?

A history is linearizable when some order of its calls (1) keeps every call after each call that
returned before it started, and (2) replayed one call at a time on the sequential model answers
every call as it was answered. The sequential model is the library itself: a
:class:`~payment_intent.PaymentIntents` over a fresh :class:`~payment_intent.InMemoryStore`, with
the run's clock time and the simulated processor, whose outcomes follow from the payment method
alone. So the transitions, the invariants and the errors a history is held to are the library's
own, stated once in its domain.

Each call is about one intent, and linearizability is local (Herlihy and Wing): a history is
linearizable exactly when each intent's calls are. The search runs per intent, after Wing and
Gong: it extends an order with a call no pending call must precede, replays it, and backtracks on
a wrong answer. It remembers every (calls placed, state reached) pair that led nowhere, and a
worker's calls are placed in its own order, so with ``w`` workers of at most ``n`` calls each on
one intent it visits at most ``(n + 1) ** w`` sets of placed calls (9,261 for 3 x 20), each with
the few states the model reaches there, and tries at most ``w`` calls at each. Many workers on
one intent are what make it slow: 8 workers of 20 calls bound it by 21 ** 8.

A history that fails is cut down to a smallest set of calls on one intent that still has no
order (see :func:`_shrunk`), and :class:`NotLinearizable` prints it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from payment_intent.adapters.clocks import ManualClock
from payment_intent.adapters.memory import InMemoryStore
from payment_intent.adapters.simulated import SimulatedProcessor
from payment_intent.domain.model import PaymentIntent
from payment_intent.ports import Commit
from payment_intent.service import PaymentIntents
from payment_intent.testing.calls import (
    MISSING_INTENT,
    Call,
    CallHistory,
    Observation,
    observed_intent,
    perform,
)

#: The model's state for one intent: as stored, or ``None`` before it exists.
State = PaymentIntent | None


@dataclass
class SequentialModel:
    """The library answering one call at a time: what a call answers in a state, and the state
    it leaves. Answers are remembered, so the search asks each question once."""

    profile: str
    now: int
    _answers: dict[tuple[str, int], tuple[Observation, State]] = field(default_factory=dict)

    def step(self, state: State, call: Call) -> tuple[Observation, State]:
        """The answer to ``call`` in ``state``, and the state after it."""
        # By the call's identity: two calls may ask the same thing, and a call's arguments
        # (a dict) do not hash. The history keeps every call alive while it is checked.
        key = (observed_intent(state) if state is not None else "", id(call))
        if key not in self._answers:
            self._answers[key] = self._replay(state, call)
        return self._answers[key]

    def _replay(self, state: State, call: Call) -> tuple[Observation, State]:
        store = InMemoryStore()
        service = PaymentIntents(store, ManualClock(self.now), SimulatedProcessor(), self.profile)
        if state is not None:
            # The store takes an intent only on top of the version before it: lay the state
            # down version by version, so the call meets it at the version it has.
            for version in range(1, state.version + 1):
                store.commit(Commit(state.model_copy(update={"version": version}), version - 1))
        target = state.id if state is not None else MISSING_INTENT
        observation, intent_id = perform(service, call.step, target)
        return observation, store.load(intent_id) if intent_id is not None else None


def linearization(calls: Sequence[Call], model: SequentialModel) -> list[Call] | None:
    """An order of ``calls`` (all about one intent) that real time allows and in which the model
    answers each call as it was answered; ``None`` when there is none."""
    ordered = sorted(calls, key=lambda call: (call.start, call.end))
    everything = (1 << len(ordered)) - 1
    dead_ends: set[tuple[int, str]] = set()
    order: list[Call] = []

    def extend(placed: int, state: State) -> bool:
        if placed == everything:
            return True
        visit = (placed, observed_intent(state) if state is not None else "")
        if visit in dead_ends:
            return False
        pending = [n for n in range(len(ordered)) if not placed >> n & 1]
        first_end = min(ordered[n].end for n in pending)
        for n in pending:
            call = ordered[n]
            if call.start > first_end:
                break  # a pending call returned before this one started: it must go first
            if call.observation.changed_nothing:
                after = state
            else:
                answer, after = model.step(state, call)
                if answer != call.observation:
                    continue
            order.append(call)
            if extend(placed | 1 << n, after):
                return True
            order.pop()
        dead_ends.add(visit)
        return False

    return order if extend(0, None) else None


def _smallest(calls: list[Call], explained: Callable[[list[Call]], bool]) -> list[Call]:
    """A 1-minimal sub-list of ``calls`` that is still not explained (delta debugging): removing
    any one more call lets some order explain the rest."""
    chunks = 2
    while len(calls) >= 2:
        size = -(-len(calls) // chunks)
        for start in range(0, len(calls), size):
            rest = calls[:start] + calls[start + size :]
            if not explained(rest):
                calls, chunks = rest, max(chunks - 1, 2)
                break
        else:
            if chunks >= len(calls):
                break
            chunks = min(len(calls), chunks * 2)
    if len(calls) == 1 and not explained([]):
        return []
    return calls


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a history is linearizable; if not, ``counterexample`` is a smallest set of calls
    on one intent that no order explains, in the order they started."""

    linearizable: bool
    counterexample: tuple[Call, ...] = ()

    def explain(self) -> str:
        """The counterexample for people: each call with its worker, when it ran (milliseconds
        from the first call's start) and, on the line below, what it answered."""
        if self.linearizable:
            return "Every call fits one order in which the calls happened one at a time."
        calls = self.counterexample
        origin = min(call.start for call in calls)
        width = max(len(call.worker) for call in calls)
        lines = [
            f"No order of these {len(calls)} calls on intent {calls[0].intent} explains what "
            "they answered",
            "(calls that overlap in time may go in either order):",
        ]
        for call in calls:
            arguments = ", ".join(f"{name}={value!r}" for name, value in call.step.kwargs.items())
            start, end = ((moment - origin) / 1e6 for moment in (call.start, call.end))
            lines.append(
                f"  {call.worker:<{width}}  {start:.3f}-{end:.3f} ms  "
                f"{call.step.operation}({arguments})"
            )
            lines.append(f"  {'':<{width}}  -> {call.observation.summary()}")
        return "\n".join(lines)


class NotLinearizable(AssertionError):
    """A concurrent run whose answers no one-at-a-time order explains; the message shows a
    smallest set of calls that prove it."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.explain())
        self.verdict = verdict


def check_linearizable(history: CallHistory) -> Verdict:
    """The verdict on ``history``: linearizable, or a smallest counterexample."""
    model = SequentialModel(history.profile, history.now)
    by_intent: dict[int, list[Call]] = {}
    for call in history.calls:
        by_intent.setdefault(call.intent, []).append(call)
    for calls in by_intent.values():
        if linearization(calls, model) is None:
            return Verdict(False, tuple(_shrunk(calls, history)))
    return Verdict(True)


def _shrunk(calls: list[Call], history: CallHistory) -> list[Call]:
    """A smallest sub-history of one intent's calls that no order explains.

    Only cuts that cannot make a good history look bad are made, so what is left proves the bug:
    the calls after a moment that every kept call had returned by (no order can put them earlier
    than a kept call), and then, by delta debugging, calls whose answers changed nothing (reads,
    refusals), which take no part in any order's states. A call that changed the intent stays:
    without it, later answers would be unexplained for want of it, not because of a race.
    """
    model = SequentialModel(history.profile, history.now)

    def explained(kept: list[Call]) -> bool:
        return linearization(kept, model) is not None

    ordered = sorted(calls, key=lambda call: (call.start, call.end))
    cut = len(ordered)
    for n in range(1, len(ordered)):
        returned_by = max(call.end for call in ordered[:n])
        if ordered[n].start > returned_by and not explained(ordered[:n]):
            cut = n
            break
    writes = [call for call in ordered[:cut] if call.observation.wrote]
    kept = _smallest(
        [call for call in ordered[:cut] if not call.observation.wrote],
        lambda rest: explained(writes + rest),
    )
    return sorted(writes + kept, key=lambda call: (call.start, call.end))


def assert_linearizable(history: CallHistory) -> None:
    """Raise :class:`NotLinearizable`, showing a smallest counterexample, unless some order of
    the calls explains every answer."""
    verdict = check_linearizable(history)
    if not verdict.linearizable:
        raise NotLinearizable(verdict)
