"""Refunds: collected money sent back, never more than was collected, never moving the intent.

A refund is part of its intent's aggregate (``PaymentIntent.refunds``), so the rule that refunds
total at most what a charge collected is checked against one version, under optimistic
concurrency. A refund has a small lifecycle of its own, declared in :data:`REFUND_MOVES`: an
asynchronous method's refund stays ``pending`` until it settles; a pending refund may be canceled.
The charge's ``amount_refunded`` counts pending and succeeded refunds, as Stripe counts them.
"""

from __future__ import annotations

from typing import Any

from payment_intent.domain import payment_methods
from payment_intent.domain.decisions import ProcessorCall, merge_metadata, next_version
from payment_intent.domain.errors import InvalidRequestError, parameter_invalid, resource_missing
from payment_intent.domain.events import Change
from payment_intent.domain.lifecycle import REFUND, require
from payment_intent.domain.model import NO_METADATA, Charge, PaymentIntent, Refund
from payment_intent.domain.outcomes import Approved, Declined, Outcome, PaymentMethod, Pending
from payment_intent.domain.params import RefundParams, RefundUpdateParams
from payment_intent.domain.profiles import Profile
from payment_intent.domain.status import EXPIRED_UNCAPTURED_CHARGE, EventType, RefundStatus

PENDING = RefundStatus.PENDING
SUCCEEDED = RefundStatus.SUCCEEDED
FAILED = RefundStatus.FAILED
CANCELED = RefundStatus.CANCELED

#: A refund's lifecycle: (move, from) -> to. Succeeded, failed and canceled are final.
REFUND_MOVES: dict[tuple[str, RefundStatus], RefundStatus] = {
    ("succeed", PENDING): SUCCEEDED,
    ("fail", PENDING): FAILED,
    ("cancel", PENDING): CANCELED,
}

#: Why a refund the processor refused failed (one of Stripe's ``failure_reason`` values).
DECLINED = "declined"


def refundable(intent: PaymentIntent, charge: Charge) -> int:
    """What ``charge`` collected and no pending or succeeded refund has sent back yet."""
    sent = sum(
        r.amount
        for r in intent.refunds
        if r.charge == charge.id and r.holds_money and r.reason != EXPIRED_UNCAPTURED_CHARGE
    )
    return charge.amount_captured - sent


def refund(
    profile: Profile,
    intent: PaymentIntent,
    params: RefundParams,
    method: PaymentMethod | None,
    *,
    now: int,
    refund_id: str,
    attempt_id: str,
) -> ProcessorCall:
    """Send back ``amount`` (all that is left when omitted) of the money the intent collected.

    A hold that was never captured is released by a cancel, not refunded; between multicaptures,
    what has been collected so far may be refunded.
    """
    require(REFUND, intent.status)
    charge = intent.latest_charge
    if params.charge is not None and (charge is None or params.charge != charge.id):
        if all(c.id != params.charge for c in intent.charges):
            raise resource_missing("charge", "charge", params.charge)
        # Only the latest attempt can have collected: an earlier one failed or was replaced.
        raise parameter_invalid(
            "charge",
            f"Charge {params.charge} is an earlier attempt of {intent.id} that collected "
            "nothing; refund its latest charge (or name the PaymentIntent) instead.",
        )
    if charge is None or charge.amount_captured == 0:
        raise InvalidRequestError(
            f"PaymentIntent {intent.id} has collected nothing to refund: cancel it to release "
            "an uncaptured hold.",
            code="charge_not_captured",
            param="payment_intent",
        )
    left = refundable(intent, charge)
    if left == 0:
        raise InvalidRequestError(
            f"Charge {charge.id} has already been refunded.",
            code="charge_already_refunded",
            param="payment_intent",
        )
    amount = params.amount if params.amount is not None else left
    if amount > left:
        raise InvalidRequestError(
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left}).",
            code="amount_too_large",
            param="amount",
        )
    if params.currency is not None and params.currency.lower() != intent.currency:
        raise parameter_invalid(
            "currency", f"The refund's currency must be the payment's, {intent.currency}."
        )
    attempt = payment_methods.attempt(profile, intent, method, attempt_id)

    def finish(outcome: Outcome) -> Change:
        status = {Approved: SUCCEEDED, Pending: PENDING, Declined: FAILED}[type(outcome)]
        created = Refund(
            id=refund_id,
            amount=amount,
            currency=intent.currency,
            payment_intent=intent.id,
            charge=charge.id,
            status=status,
            reason=params.reason,
            failure_reason=DECLINED if status is FAILED else None,
            description=params.description,
            remarks=params.remarks,
            metadata=merge_metadata({}, params.metadata or {}),
            created=now,
            updated_at=now,
        )
        after = _with(intent, created, now, charge_delta=amount if created.holds_money else 0)
        followed = EventType.REFUND_FAILED if status is FAILED else EventType.CHARGE_REFUNDED
        events: tuple[tuple[EventType, dict[str, Any]], ...] = (
            (EventType.REFUND_CREATED, {}),
            (followed, {}),
        )
        return Change(after, events, refund=created.id)

    return ProcessorCall("refund", attempt, finish, amount=amount)


def find(intent: PaymentIntent, refund_id: str) -> Refund:
    """The intent's refund ``refund_id``; the caller found the intent through the refund's id."""
    for candidate in intent.refunds:
        if candidate.id == refund_id:
            return candidate
    raise resource_missing("refund", "refund", refund_id)


def update(intent: PaymentIntent, refund_id: str, params: RefundUpdateParams, now: int) -> Change:
    """Edit what a refund says about itself: metadata, description, remarks."""
    current = find(intent, refund_id)
    changes: dict[str, Any] = {"updated_at": max(now, current.updated_at)}
    if params.metadata is not None:
        changes["metadata"] = merge_metadata(current.metadata, params.metadata)
    if params.description is not None:
        changes["description"] = params.description or None
    if params.remarks is not None:
        changes["remarks"] = params.remarks or None
    edited = current.model_copy(update=changes)
    after = _with(intent, edited, now)
    return Change(
        after, ((EventType.REFUND_UPDATED, _previous(current, edited)),), refund=edited.id
    )


def move(intent: PaymentIntent, refund_id: str, how: str, now: int) -> Change:
    """Move a refund along :data:`REFUND_MOVES`: ``succeed`` or ``fail`` settles a pending one
    (test mode), ``cancel`` withdraws it. Money a refund no longer sends counts as collected."""
    current = find(intent, refund_id)
    dest = REFUND_MOVES.get((how, current.status))
    if dest is None:
        raise InvalidRequestError(
            f"Refund {refund_id} has a status of {current.status.value}; only a pending refund "
            f"can be {'canceled' if how == 'cancel' else 'settled'}.",
            code="refund_unexpected_state",
            param="refund",
        )
    changes: dict[str, Any] = {"status": dest, "updated_at": max(now, current.updated_at)}
    if dest is FAILED:
        changes["failure_reason"] = DECLINED
    moved = current.model_copy(update=changes)
    returned = 0 if moved.holds_money else -current.amount
    after = _with(intent, moved, now, charge_delta=returned)
    events: tuple[tuple[EventType, dict[str, Any]], ...] = (
        (EventType.REFUND_UPDATED, _previous(current, moved)),
    )
    if dest is FAILED:
        events += ((EventType.REFUND_FAILED, {}),)
    return Change(after, events, refund=moved.id)


def expired_uncaptured(intent: PaymentIntent, released: int, at: int) -> Refund:
    """The refund the library records when a hold's window closes on ``released`` uncaptured.

    Its id follows from the hold's, so a read that shows a lapsed hold before the sweep has
    stored its expiry shows the very refund the sweep stores.
    """
    hold = intent.charges[-1]
    return Refund(
        id="re_" + hold.id.removeprefix("ch_") + "x",
        amount=released,
        currency=intent.currency,
        payment_intent=intent.id,
        charge=hold.id,
        status=SUCCEEDED,
        reason=EXPIRED_UNCAPTURED_CHARGE,
        metadata=NO_METADATA,
        created=at,
        updated_at=at,
    )


def _with(intent: PaymentIntent, changed: Refund, now: int, charge_delta: int = 0) -> PaymentIntent:
    """The next version of ``intent`` holding ``changed`` (new or edited), and its charge's
    ``amount_refunded`` moved by ``charge_delta``."""
    refunds = tuple(changed if r.id == changed.id else r for r in intent.refunds)
    if changed not in refunds:
        refunds = (*refunds, changed)
    charges = tuple(
        c.model_copy(update={"amount_refunded": c.amount_refunded + charge_delta})
        if c.id == changed.charge and charge_delta
        else c
        for c in intent.charges
    )
    return next_version(intent, now, refunds=refunds, charges=charges)


def _previous(before: Refund, after: Refund) -> dict[str, Any]:
    """The refund's fields an update changed, with their values before, as JSON data."""
    names = {
        name for name in Refund.model_fields if getattr(before, name) != getattr(after, name)
    } - {"updated_at"}
    return before.model_dump(mode="json", include=names) if names else {}
