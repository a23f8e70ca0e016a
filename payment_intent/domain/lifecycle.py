"""The transition table, declared once as data, and the one shared ``transitions`` machine over it.

Every status change in the library goes through :func:`advance`. The machine is built once for the
whole class (no machine per intent, no per-object registration): each call hands the machine a
throw-away token that carries only the status. ``auto_transitions`` is off, so the table below
is the complete list of moves; a guard that refuses raises a typed error, never returns ``False``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from transitions import EventData, Machine

from payment_intent.domain.errors import InvalidRequestError
from payment_intent.domain.status import Status

RPM = Status.REQUIRES_PAYMENT_METHOD
RC = Status.REQUIRES_CONFIRMATION
RA = Status.REQUIRES_ACTION
PROCESSING = Status.PROCESSING
RCAP = Status.REQUIRES_CAPTURE
SUCCEEDED = Status.SUCCEEDED
CANCELED = Status.CANCELED

#: The statuses from which a payment attempt may start (confirm) or be re-pointed (update).
ATTEMPTABLE: tuple[Status, ...] = (RPM, RC, RA)


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the lifecycle: ``trigger`` moves an intent from any of ``sources`` to ``dest``."""

    trigger: str
    sources: tuple[Status, ...]
    dest: Status
    description: str
    guarded: bool = False


#: SPEC section 2 as data. The diagram and the docs are generated from this same table.
TRANSITIONS: tuple[Transition, ...] = (
    Transition("attach_payment_method", ATTEMPTABLE, RC, "a payment method is attached"),
    Transition("require_action", ATTEMPTABLE, RA, "confirm: authentication required"),
    Transition("succeed", ATTEMPTABLE, SUCCEEDED, "confirm: approved, automatic capture"),
    Transition("authorize", ATTEMPTABLE, RCAP, "confirm: approved, manual capture"),
    Transition(
        "start_processing", ATTEMPTABLE, PROCESSING, "confirm: asynchronous method accepted"
    ),
    Transition("fail", ATTEMPTABLE, RPM, "confirm or authentication: declined or failed"),
    Transition("await_confirmation", (RA,), RC, "action completed, manual confirmation"),
    Transition("settle_succeeded", (PROCESSING,), SUCCEEDED, "asynchronous method succeeded"),
    Transition("settle_failed", (PROCESSING,), RPM, "asynchronous method failed"),
    Transition("capture", (RCAP,), SUCCEEDED, "capture (all or part of the hold)"),
    Transition("expire", (RCAP,), CANCELED, "the hold passed capture_before_at"),
    Transition("cancel", (RPM, RC, RA, RCAP), CANCELED, "cancel", guarded=True),
)


@dataclass(frozen=True, slots=True)
class Operation:
    """A caller-facing operation: the statuses it accepts and the verb its refusal message uses."""

    name: str
    verb: str
    accepted: tuple[Status, ...]


#: Which statuses each operation accepts. Cancel's list depends on the profile and is passed in.
OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation("confirm", "confirmed", ATTEMPTABLE),
        Operation("update", "updated", ATTEMPTABLE),
        Operation("update_description", "updated", tuple(s for s in Status if s is not CANCELED)),
        Operation("capture", "captured", (RCAP,)),
        Operation("complete_action", "authenticated", (RA,)),
        Operation("settle", "settled", (PROCESSING,)),
        Operation("attach", "attached to", ATTEMPTABLE),
    )
}


def unexpected_state(verb: str, status: Status, accepted: Iterable[Status]) -> InvalidRequestError:
    """The provider's message: what was tried, the status it met, and the statuses that would do."""
    names = ", ".join(s.value for s in accepted)
    return InvalidRequestError(
        f"This PaymentIntent could not be {verb} because it has a status of {status.value}. "
        f"Only a PaymentIntent with one of the following statuses may be {verb}: {names}.",
        code="payment_intent_unexpected_state",
    )


def require_status(
    operation: str, status: Status, accepted: tuple[Status, ...] | None = None
) -> None:
    """Refuse ``operation`` unless it accepts ``status`` (``accepted`` overrides the table)."""
    op = OPERATIONS[operation] if operation in OPERATIONS else Operation(operation, operation, ())
    allowed = accepted if accepted is not None else op.accepted
    if status not in allowed:
        raise unexpected_state(op.verb, status, allowed)


def _cancel_guard(event: EventData) -> bool:
    """Cancel is allowed from the profile's cancelable statuses only, which the caller passes in."""
    cancelable: tuple[Status, ...] = event.kwargs["cancelable"]
    status = Status(event.state.name)
    if status not in cancelable:
        raise unexpected_state("canceled", status, cancelable)
    return True


class _Token:
    """What the shared machine moves: just a status, so no intent is ever registered with it."""

    __slots__ = ("status",)

    def __init__(self, status: str) -> None:
        self.status = status


def _build_machine() -> Machine:
    rows: list[dict[str, Any]] = []
    for row in TRANSITIONS:
        spec: dict[str, Any] = {
            "trigger": row.trigger,
            "source": [s.value for s in row.sources],
            "dest": row.dest.value,
        }
        if row.guarded:
            spec["conditions"] = [_cancel_guard]
        rows.append(spec)
    return Machine(
        model=None,
        states=[s.value for s in Status],
        transitions=rows,
        initial=None,
        auto_transitions=False,
        send_event=True,
        model_attribute="status",
    )


#: The one machine for the whole library.
MACHINE: Machine = _build_machine()
_EVENTS = MACHINE.events
_STATES = {status: MACHINE.get_state(status.value) for status in Status}
_STATUS = {status.value: status for status in Status}
# advance() fires a row's Transition itself, which skips the machine-wide prepare and finalize
# callbacks: make sure there are none to skip, and that every (trigger, source) has one row.
if (
    MACHINE.prepare_event
    or MACHINE.finalize_event
    or any(len(rows) != 1 for event in _EVENTS.values() for rows in event.transitions.values())
):
    raise RuntimeError("advance() expects one row per (trigger, source) and no event callbacks")


def advance(status: Status, trigger: str, **guard_args: Any) -> Status:
    """Fire ``trigger`` from ``status`` on the shared machine and return the status it leads to.

    The machine's own transition for that source runs: its guards, exit and enter callbacks and
    the state change. It is found directly rather than through ``Event.trigger``, which would
    first look the same transition up through three more layers (a third of the cost).
    """
    event = _EVENTS[trigger]
    rows = event.transitions.get(status)  # a Status is the str of its value
    if not rows:
        sources = next(t.sources for t in TRANSITIONS if t.trigger == trigger)
        raise unexpected_state(trigger, status, sources)
    token = _Token(status)
    if not rows[0].execute(EventData(_STATES[status], event, MACHINE, token, (), guard_args)):
        raise AssertionError(f"a guard on {trigger} refused without raising")
    return _STATUS[token.status]
