"""The invariants of SPEC section 5 as assertions, for our tests and for users' own.

:func:`assert_invariants` checks what one version of an intent must satisfy on its own;
:class:`History` checks what must hold across the versions of an intent as commands run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from payment_intent.domain.model import PaymentIntent
from payment_intent.domain.status import TERMINAL, CancellationReason, Status


class InvariantViolation(AssertionError):
    """An intent broke a rule that must hold after every operation."""


def _check(condition: bool, intent: PaymentIntent, rule: str) -> None:
    if not condition:
        raise InvariantViolation(
            f"{intent.id} (status {intent.status.value}, v{intent.version}): {rule}"
        )


def assert_invariants(intent: PaymentIntent, now: int | None = None) -> None:
    """Raise :class:`InvariantViolation` unless ``intent`` satisfies SPEC section 5 on its own.

    With ``now`` (the clock's time when it was read) it also checks the timestamps against it.
    """
    amount = intent.amount
    _check(0 <= intent.amount_received <= amount, intent, "0 <= amount_received <= amount")
    _check(0 <= intent.amount_capturable <= amount, intent, "0 <= amount_capturable <= amount")
    _check(
        (intent.amount_capturable > 0) == (intent.status is Status.REQUIRES_CAPTURE),
        intent,
        "amount_capturable > 0 exactly when the status is requires_capture",
    )
    _check(
        (intent.amount_received > 0) == (intent.status is Status.SUCCEEDED),
        intent,
        "money is received exactly when the intent succeeded",
    )
    if intent.status is Status.REQUIRES_CAPTURE:
        _check(intent.capture_before_at is not None, intent, "a hold has capture_before_at")
    if intent.capture_before_at is not None:
        authorized = [c for c in intent.charges if c.status == "succeeded"]
        _check(
            intent.status in (Status.REQUIRES_CAPTURE, Status.SUCCEEDED, Status.CANCELED)
            and len(authorized) == 1,
            intent,
            "capture_before_at is set only on an intent authorized for manual capture",
        )
    succeeded = [c for c in intent.charges if c.status == "succeeded"]
    _check(len(succeeded) <= 1, intent, "at most one charge per intent succeeds")
    if intent.status is Status.SUCCEEDED:
        _check(
            len(succeeded) == 1 and succeeded[0].amount_captured == intent.amount_received,
            intent,
            "a succeeded intent has one captured charge for amount_received",
        )
    canceled = intent.status is Status.CANCELED
    _check(
        (intent.canceled_at is not None) == canceled,
        intent,
        "canceled_at is set exactly on canceled intents",
    )
    _check(
        intent.cancellation_reason is None or canceled,
        intent,
        "cancellation_reason is set only on canceled intents",
    )
    if intent.cancellation_reason is CancellationReason.AUTOMATIC:
        _check(intent.capture_before_at is not None, intent, "only a hold expires automatically")
    _check(
        (intent.next_action is not None) == (intent.status is Status.REQUIRES_ACTION),
        intent,
        "next_action is set exactly when the customer must act",
    )
    if intent.last_payment_error is not None:
        _check(
            intent.status not in (Status.SUCCEEDED, Status.REQUIRES_CAPTURE),
            intent,
            "last_payment_error is cleared by a success",
        )
    _check(intent.created <= intent.updated_at, intent, "created <= updated_at")
    if now is not None:
        _check(intent.updated_at <= now, intent, "updated_at is not in the clock's future")
    _check(intent.version >= 1, intent, "a stored intent has a version of at least 1")


@dataclass
class _Seen:
    version: int
    status: Status
    amount_received: int
    received_changes: int = 0
    events: int = 0


@dataclass
class History:
    """What must hold across versions: absorbing terminals, one receipt, versions that only rise."""

    seen: dict[str, _Seen] = field(default_factory=dict)

    def observe(self, intent: PaymentIntent) -> None:
        """Record a newly read version of ``intent``, checking it against the previous one."""
        before = self.seen.get(intent.id)
        assert_invariants(intent)
        if before is None:
            self.seen[intent.id] = _Seen(intent.version, intent.status, intent.amount_received)
            return
        _check(intent.version >= before.version, intent, "versions never go backwards")
        if intent.version == before.version:
            _check(intent.status is before.status, intent, "one version has one status")
            return
        if before.status in TERMINAL:
            _check(
                intent.status is before.status,
                intent,
                f"{before.status.value} is absorbing, yet the intent left it",
            )
        if intent.amount_received != before.amount_received:
            before.received_changes += 1
            _check(before.received_changes <= 1, intent, "amount_received changes at most once")
        before.version, before.status = intent.version, intent.status
        before.amount_received = intent.amount_received
