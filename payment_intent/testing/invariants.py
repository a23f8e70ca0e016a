"""The invariants of SPEC section 5 as assertions, for our tests and for users' own.

:func:`assert_invariants` checks what one version of an intent must satisfy on its own, the money
of its hold and its refunds included (:func:`assert_money_conserved`); :class:`History` checks what
must hold across the versions of an intent as commands run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from payment_intent.domain.model import Charge, PaymentIntent, Refund
from payment_intent.domain.status import (
    EXPIRED_UNCAPTURED_CHARGE,
    TERMINAL,
    CancellationReason,
    Grant,
    RefundStatus,
    Status,
)

#: Captures one multicapture hold takes at most, and increments one hold is asked for at most
#: (SPEC section 10). Written here again, not imported: a checker that read its limits from the
#: code it checks would agree with any bug in them.
MAX_CAPTURES = 50
MAX_INCREMENTS = 10


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
    hold = intent.latest_charge
    # Only an overcapture collects more than the intent's amount, up to what it was granted.
    ceiling = amount
    if hold is not None and hold.overcapture is Grant.AVAILABLE:
        ceiling = max(amount, hold.maximum_amount_capturable or 0)
    _check(
        0 <= intent.amount_received <= ceiling,
        intent,
        "0 <= amount_received <= amount (or the overcapture granted)",
    )
    _check(0 <= intent.amount_capturable <= amount, intent, "0 <= amount_capturable <= amount")
    _check(
        (intent.amount_capturable > 0) == (intent.status is Status.REQUIRES_CAPTURE),
        intent,
        "amount_capturable > 0 exactly when the status is requires_capture",
    )
    if intent.status is Status.SUCCEEDED:
        _check(intent.amount_received > 0, intent, "a succeeded intent has received money")
    elif intent.amount_received > 0:
        # Between the captures of a multicapture hold, part is received and the rest still held.
        _check(
            intent.status is Status.REQUIRES_CAPTURE
            and hold is not None
            and hold.multicapture is Grant.AVAILABLE,
            intent,
            "money is received only by a succeeded intent or a multicapture hold",
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
    assert_money_conserved(intent)


def assert_money_conserved(intent: PaymentIntent) -> None:
    """Raise :class:`InvariantViolation` unless the money of ``intent``'s charges and refunds
    adds up.

    For each charge that authorized money (``status="succeeded"``), with

    - *collected* ``= amount_captured``,
    - *held* ``= amount_capturable`` while the charge is the hold of an intent in
      ``requires_capture``, else 0,
    - *refunded* ``=`` the amounts of its refunds that are ``pending`` or ``succeeded``, but for
      the ``expired_uncaptured_charge`` one, which records a release and is not a refund of money
      collected,
    - *released* ``= amount_refunded - refunded``: the part of the hold let go uncaptured, by a
      final capture of less, a cancel or the end of the window (the charge counts both in
      ``amount_refunded``, as Stripe does),

    money is conserved: ``collected + held + released = max(amount, collected)``. ``amount`` is
    what was authorized (raised by increments); a collected amount above it is an overcapture,
    which only a hold granted overcapture makes, up to its ``maximum_amount_capturable``. Every
    term is at least 0, so refunds never exceed what was collected (``refunded <= collected``).

    The charge is ``refunded`` exactly when nothing of it is kept: nothing held, and all collected
    refunded. Captures and increments stay within SPEC section 10's limits; several captures need
    multicapture, increments incremental authorization. A charge that authorized nothing (failed,
    or pending at the bank) has collected, released and refunded nothing.

    Refunds appear only where money was collected: on a hold partly captured, or a succeeded
    intent; a canceled intent holds only the record of its hold's expiry.
    """
    charges = {charge.id: charge for charge in intent.charges}
    for refund in intent.refunds:
        _check_refund(intent, refund, charges)
    ids = [refund.id for refund in intent.refunds]
    _check(len(ids) == len(set(ids)), intent, "refund ids are unique")
    for charge in intent.charges:
        _check_charge(intent, charge)
    kept = [r for r in intent.refunds if r.reason != EXPIRED_UNCAPTURED_CHARGE]
    if intent.status is Status.CANCELED:
        _check(not kept, intent, "a canceled intent collected nothing, so refunded nothing")
    elif kept:
        hold = intent.latest_charge
        _check(
            intent.status is Status.SUCCEEDED
            or (
                intent.status is Status.REQUIRES_CAPTURE
                and hold is not None
                and hold.amount_captured > 0
            ),
            intent,
            "refunds appear only on an intent that collected money",
        )


def _check_refund(intent: PaymentIntent, refund: Refund, charges: dict[str, Charge]) -> None:
    _check(refund.amount > 0, intent, f"refund {refund.id} sends back a positive amount")
    _check(
        refund.payment_intent == intent.id and refund.currency == intent.currency,
        intent,
        f"refund {refund.id} is of this intent, in its currency",
    )
    charge = charges.get(refund.charge)
    _check(
        charge is not None and charge.status == "succeeded",
        intent,
        f"refund {refund.id} is of a charge of this intent that took money",
    )
    _check(
        (refund.failure_reason is not None) == (refund.status is RefundStatus.FAILED),
        intent,
        f"refund {refund.id} has a failure_reason exactly when it failed",
    )
    _check(refund.created <= refund.updated_at, intent, f"refund {refund.id}: created <= updated")
    if refund.reason == EXPIRED_UNCAPTURED_CHARGE:
        _check(
            refund.status is RefundStatus.SUCCEEDED
            and intent.capture_before_at is not None
            and refund.created == intent.capture_before_at,
            intent,
            "an expired_uncaptured_charge refund records a hold's expiry, at capture_before_at",
        )


def _check_charge(intent: PaymentIntent, charge: Charge) -> None:
    name = f"charge {charge.id}"
    if charge.status != "succeeded":
        _check(
            charge.amount_captured == charge.amount_refunded == charge.captures == 0,
            intent,
            f"{name} authorized nothing, so collected and released nothing",
        )
        _check(not charge.refunded, intent, f"{name} authorized nothing, so is not refunded")
        return
    collected = charge.amount_captured
    is_hold = charge is intent.latest_charge and intent.status is Status.REQUIRES_CAPTURE
    held = intent.amount_capturable if is_hold else 0
    refunded = sum(
        r.amount
        for r in intent.refunds
        if r.charge == charge.id
        and r.status in (RefundStatus.PENDING, RefundStatus.SUCCEEDED)
        and r.reason != EXPIRED_UNCAPTURED_CHARGE
    )
    released = charge.amount_refunded - refunded
    _check(
        refunded <= collected,
        intent,
        f"{name}: refunds ({refunded}) total at most what was collected ({collected})",
    )
    _check(released >= 0, intent, f"{name}: amount_refunded counts every pending or sent refund")
    _check(
        collected + held + released == max(charge.amount, collected),
        intent,
        f"{name}: money is conserved: collected {collected} + held {held} + released "
        f"{released} != authorized {charge.amount} (+ any overcapture)",
    )
    if collected > charge.amount:
        _check(
            charge.overcapture is Grant.AVAILABLE
            and collected <= (charge.maximum_amount_capturable or 0),
            intent,
            f"{name}: collected above the amount only by an overcapture granted, within its "
            "maximum_amount_capturable",
        )
    _check(
        charge.refunded == (held == 0 and refunded == collected),
        intent,
        f"{name}: refunded exactly when nothing is held and all collected was refunded",
    )
    _check(
        charge.captured == (collected > 0),
        intent,
        f"{name}: captured exactly when it collected money",
    )
    _check(
        0 <= charge.captures <= MAX_CAPTURES,
        intent,
        f"{name}: at most {MAX_CAPTURES} captures",
    )
    _check(
        charge.captures <= 1 or charge.multicapture is Grant.AVAILABLE,
        intent,
        f"{name}: several captures only with multicapture granted",
    )
    _check(
        0 <= charge.increments <= MAX_INCREMENTS,
        intent,
        f"{name}: at most {MAX_INCREMENTS} increments",
    )
    _check(
        charge.increments == 0 or charge.incremental_authorization is Grant.AVAILABLE,
        intent,
        f"{name}: increments only with incremental authorization granted",
    )


@dataclass
class _Seen:
    intent: PaymentIntent
    received_changes: int = 0


@dataclass
class History:
    """What must hold across versions: absorbing terminals, versions that only rise, money that is
    received only by captures and never falls, and refunds that leave the intent's status alone."""

    seen: dict[str, _Seen] = field(default_factory=dict)

    def observe(self, intent: PaymentIntent) -> None:
        """Record a newly read version of ``intent``, checking it against the previous one."""
        before = self.seen.get(intent.id)
        assert_invariants(intent)
        if before is None:
            self.seen[intent.id] = _Seen(intent)
            return
        previous = before.intent
        _check(intent.version >= previous.version, intent, "versions never go backwards")
        if intent.version == previous.version:
            _check(intent.status is previous.status, intent, "one version has one status")
            return
        if previous.status in TERMINAL:
            _check(
                intent.status is previous.status,
                intent,
                f"{previous.status.value} is absorbing, yet the intent left it",
            )
        _check(
            intent.amount_received >= previous.amount_received,
            intent,
            f"amount_received never falls (was {previous.amount_received})",
        )
        if intent.amount_received != previous.amount_received:
            before.received_changes += 1
            hold = intent.latest_charge
            captures = hold.captures if hold is not None else 0
            _check(
                before.received_changes <= max(1, captures),
                intent,
                "amount_received grows only by a payment or a capture of its hold",
            )
        if previous.capture_before_at is not None:
            _check(
                intent.capture_before_at == previous.capture_before_at,
                intent,
                "capture_before_at never moves once the hold is placed (increments included)",
            )
        if intent.version == previous.version + 1 and _refunds_moved(previous, intent):
            _check(
                intent.status is previous.status,
                intent,
                f"a refund never changes the intent's status (was {previous.status.value})",
            )
        _check_refunds_evolve(previous, intent)
        _check_hold_evolves(previous, intent)
        before.intent = intent


def _refunds_moved(before: PaymentIntent, after: PaymentIntent) -> bool:
    """Whether a command made, settled or withdrew a refund of collected money (the record of a
    hold's expiry is the expiry's, which does change the status)."""
    was = {r.id: r.status for r in before.refunds}
    return any(
        r.reason != EXPIRED_UNCAPTURED_CHARGE and was.get(r.id) is not r.status
        for r in after.refunds
    )


def _check_refunds_evolve(before: PaymentIntent, after: PaymentIntent) -> None:
    """A refund, once made, stays, keeps its amount, and moves only out of ``pending``."""
    now = {r.id: r for r in after.refunds}
    for earlier in before.refunds:
        later = now.get(earlier.id)
        _check(later is not None, after, f"refund {earlier.id} disappeared")
        assert later is not None
        _check(later.amount == earlier.amount, after, f"refund {earlier.id} changed its amount")
        _check(
            later.status is earlier.status or earlier.status is RefundStatus.PENDING,
            after,
            f"refund {earlier.id} left its final status {earlier.status.value}",
        )


def _check_hold_evolves(before: PaymentIntent, after: PaymentIntent) -> None:
    """The hold's counts only rise, and it is never raised after part of it was captured."""
    was, hold = before.latest_charge, after.latest_charge
    if was is None or hold is None or was.id != hold.id:
        return
    _check(
        hold.captures >= was.captures and hold.increments >= was.increments,
        after,
        "a hold's counts of captures and increments never fall",
    )
    if hold.increments > was.increments:
        _check(was.captures == 0, after, "a hold is never incremented after a capture")
