"""The transition table, declared once as data, and the one shared ``transitions`` machine over it.

Each row says which operation (a caller's command, or the library's own expiry) moves an intent
from which statuses to which, by which outcome. Everything else is derived from these rows: the
statuses each operation accepts, the words its refusal uses, the machine, the diagram in the docs.

The machine is built once for the whole library (no machine per intent): each move hands it a
throw-away token that carries only the status, through ``Event.trigger``, the machine's public
entry point. ``auto_transitions`` is off, so the rows below are the complete list of moves.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from transitions import Machine

from payment_intent.domain.errors import InvalidRequestError
from payment_intent.domain.status import Status

REQUIRES_PAYMENT_METHOD = Status.REQUIRES_PAYMENT_METHOD
REQUIRES_CONFIRMATION = Status.REQUIRES_CONFIRMATION
REQUIRES_ACTION = Status.REQUIRES_ACTION
PROCESSING = Status.PROCESSING
REQUIRES_CAPTURE = Status.REQUIRES_CAPTURE
SUCCEEDED = Status.SUCCEEDED
CANCELED = Status.CANCELED


@dataclass(frozen=True, slots=True)
class Operation:
    """What moves an intent, and the past participle its refusal uses ("could not be captured")."""

    name: str
    verb: str


CONFIRM = Operation("confirm", "confirmed")
#: An update of the payment terms (amount, currency, method, capture method, ...).
UPDATE = Operation("update", "updated")
#: An update of description and metadata only, which a paid intent still takes.
ANNOTATE = Operation("annotate", "updated")
COMPLETE_ACTION = Operation("complete_action", "authenticated")
SETTLE = Operation("settle", "settled")
CAPTURE = Operation("capture", "captured")
CANCEL = Operation("cancel", "canceled")
EXPIRE = Operation("expire", "expired")
#: Raising a granted hold to a new total (incremental authorization).
INCREMENT = Operation("increment_authorization", "incremented")
#: Sending collected money back; the intent keeps its status.
REFUND = Operation("refund", "refunded")

#: Where a payment attempt may start (confirm) or its method be replaced (update).
ATTEMPTABLE: tuple[Status, ...] = (REQUIRES_PAYMENT_METHOD, REQUIRES_CONFIRMATION, REQUIRES_ACTION)
#: Every status but canceled: description and metadata stay editable after payment.
NOT_CANCELED: tuple[Status, ...] = tuple(status for status in Status if status is not CANCELED)


@dataclass(frozen=True, slots=True)
class Transition:
    """One row: ``operation`` moves an intent from any of ``sources`` to ``dest`` when its outcome
    is ``trigger``. ``dest`` is ``None`` for an edit that keeps the status."""

    operation: Operation
    trigger: str
    sources: tuple[Status, ...]
    dest: Status | None


#: The lifecycle as data: every move of every operation.
TRANSITIONS: tuple[Transition, ...] = (
    Transition(UPDATE, "attach_payment_method", ATTEMPTABLE, REQUIRES_CONFIRMATION),
    Transition(UPDATE, "amend", ATTEMPTABLE, None),
    Transition(ANNOTATE, "annotate", NOT_CANCELED, None),
    Transition(CONFIRM, "require_action", ATTEMPTABLE, REQUIRES_ACTION),
    Transition(CONFIRM, "succeed", ATTEMPTABLE, SUCCEEDED),
    Transition(CONFIRM, "authorize", ATTEMPTABLE, REQUIRES_CAPTURE),
    Transition(CONFIRM, "start_processing", ATTEMPTABLE, PROCESSING),
    Transition(CONFIRM, "fail", ATTEMPTABLE, REQUIRES_PAYMENT_METHOD),
    Transition(COMPLETE_ACTION, "succeed", (REQUIRES_ACTION,), SUCCEEDED),
    Transition(COMPLETE_ACTION, "authorize", (REQUIRES_ACTION,), REQUIRES_CAPTURE),
    Transition(COMPLETE_ACTION, "start_processing", (REQUIRES_ACTION,), PROCESSING),
    Transition(COMPLETE_ACTION, "fail", (REQUIRES_ACTION,), REQUIRES_PAYMENT_METHOD),
    Transition(COMPLETE_ACTION, "await_confirmation", (REQUIRES_ACTION,), REQUIRES_CONFIRMATION),
    Transition(SETTLE, "succeed", (PROCESSING,), SUCCEEDED),
    Transition(SETTLE, "fail", (PROCESSING,), REQUIRES_PAYMENT_METHOD),
    Transition(CAPTURE, "capture", (REQUIRES_CAPTURE,), SUCCEEDED),
    # Multicapture: a capture that is not final collects part and keeps the rest held.
    Transition(CAPTURE, "capture_part", (REQUIRES_CAPTURE,), REQUIRES_CAPTURE),
    Transition(INCREMENT, "increment", (REQUIRES_CAPTURE,), REQUIRES_CAPTURE),
    Transition(REFUND, "refund", (REQUIRES_CAPTURE, SUCCEEDED), None),
    # A window that closes on nothing captured cancels the intent; on part captured, the
    # remainder is released and the intent has succeeded, for what it collected.
    Transition(EXPIRE, "expire", (REQUIRES_CAPTURE,), CANCELED),
    Transition(EXPIRE, "close", (REQUIRES_CAPTURE,), SUCCEEDED),
    Transition(
        CANCEL,
        "cancel",
        (REQUIRES_PAYMENT_METHOD, REQUIRES_CONFIRMATION, REQUIRES_ACTION, REQUIRES_CAPTURE),
        CANCELED,
    ),
    # A cancel after part of the hold was captured releases the rest, as the window's end does.
    Transition(CANCEL, "close", (REQUIRES_CAPTURE,), SUCCEEDED),
)

OPERATIONS: dict[str, Operation] = {row.operation.name: row.operation for row in TRANSITIONS}


def accepted(operation: Operation, within: Collection[Status] | None = None) -> tuple[Status, ...]:
    """The statuses ``operation`` accepts: the sources of its rows, narrowed to ``within`` where
    the profile narrows them (PayRex cancels fewer statuses), in the table's status order."""
    sources = {
        status for row in TRANSITIONS if row.operation == operation for status in row.sources
    }
    return tuple(
        status for status in Status if status in sources and (within is None or status in within)
    )


def require(
    operation: Operation,
    status: Status,
    *,
    within: Collection[Status] | None = None,
    param: str | None = None,
) -> None:
    """Refuse ``operation`` on an intent in ``status`` unless the table (and profile) allow it.

    ``param`` names the parameter the refusal is about (an update's ``amount``, say), if any.
    """
    allowed = accepted(operation, within)
    if status not in allowed:
        raise refusal(operation, status, allowed, param)


def refusal(
    operation: Operation,
    status: Status,
    allowed: Collection[Status],
    param: str | None = None,
) -> InvalidRequestError:
    """The provider's message: what was tried, the status it met, and the statuses that would do."""
    subject = f"This PaymentIntent's {param}" if param else "This PaymentIntent"
    names = ", ".join(s.value for s in allowed)
    return InvalidRequestError(
        f"{subject} could not be {operation.verb} because it has a status of {status.value}. "
        f"Only a PaymentIntent with one of the following statuses may be {operation.verb}: "
        f"{names}.",
        code="payment_intent_unexpected_state",
        param=param,
    )


class _Token:
    """What the shared machine moves: just a status, so no intent is ever registered with it."""

    __slots__ = ("status",)

    def __init__(self, status: str) -> None:
        self.status = status


def _build_machine() -> Machine:
    moves: dict[tuple[str, Status], Status | None] = {}
    for row in TRANSITIONS:
        for source in row.sources:
            if moves.setdefault((row.trigger, source), row.dest) != row.dest:
                raise ValueError(f"{row.trigger} from {source} leads to two statuses")
    rows: list[dict[str, Any]] = [
        {
            "trigger": trigger,
            "source": source.value,
            "dest": dest.value if dest is not None else None,
        }
        for (trigger, source), dest in moves.items()
    ]
    return Machine(
        model=None,
        states=[status.value for status in Status],
        transitions=rows,
        initial=None,
        auto_transitions=False,
        model_attribute="status",
    )


#: The one machine for the whole library.
MACHINE: Machine = _build_machine()


def fire(status: Status, trigger: str) -> Status:
    """Move an intent in ``status`` by ``trigger`` on the shared machine; returns the new status.

    The operation's statuses were checked by :func:`require` before its outcome was known, so a
    move the machine refuses here is a bug in the library, raised as the machine's own error.
    """
    token = _Token(status.value)
    MACHINE.events[trigger].trigger(token)
    return Status(token.status)
