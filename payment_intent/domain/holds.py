"""What happens to a hold after authorization: captured whole, in parts or above its amount, raised,
released by a cancel or by the end of its window.

A hold is the intent's latest charge while the intent requires capture. What its card was granted
of the flexible-acquiring features (Stripe's multicapture, overcapture, incremental and extended
authorization) is decided once, when the hold is placed, and recorded on the charge; every later
rule reads the grant from there.
"""

from __future__ import annotations

from typing import Any

from payment_intent.domain import payment_methods
from payment_intent.domain.decisions import Decision, ProcessorCall, merge_metadata, next_version
from payment_intent.domain.errors import CardError, InvalidRequestError, parameter_invalid
from payment_intent.domain.events import Change, changed
from payment_intent.domain.lifecycle import CANCEL, CAPTURE, EXPIRE, INCREMENT, fire, require
from payment_intent.domain.model import Charge, PaymentIntent
from payment_intent.domain.outcomes import Attempt, Declined, Outcome, PaymentMethod
from payment_intent.domain.params import CancelParams, CaptureParams, IncrementParams
from payment_intent.domain.profiles import Profile
from payment_intent.domain.status import CancellationReason, EventType, Grant, Status

#: The longest window an extended authorization grants (Stripe: up to 30 days).
EXTENDED_WINDOW = 30 * 24 * 3600
#: How far above its amount a hold granted overcapture may be captured, in percent.
OVERCAPTURE_PERCENT = 20
#: Captures one multicapture hold takes at most.
MAX_CAPTURES = 50
#: Increments one hold may be asked for, declined ones included.
MAX_INCREMENTS = 10


# -- placing a hold ----------------------------------------------------------------------------


def place(
    profile: Profile, intent: PaymentIntent, hold: Charge, attempt: Attempt, now: int
) -> tuple[Charge, int]:
    """The hold an approved manual-capture attempt places, with what its card was granted, and
    the intent's ``capture_before_at`` (30 days with extended authorization, else the profile's)."""
    grants = {
        feature: _grant(intent, attempt.payment_method, feature)
        for feature in payment_methods.FEATURES
    }
    if grants["overcapture"] is not None:
        ceiling = maximum(grants["overcapture"], hold.amount)
        hold = hold.model_copy(update={"maximum_amount_capturable": ceiling})
    extended = grants["extended_authorization"] is Grant.AVAILABLE
    window = EXTENDED_WINDOW if extended else profile.authorization_window
    return hold.model_copy(update=grants), now + window


def _grant(intent: PaymentIntent, method: PaymentMethod, feature: str) -> Grant | None:
    card = intent.payment_method_options.card
    asked = getattr(card, f"request_{feature}") if card is not None else None
    if asked is None:
        return None
    granted = asked == "if_available" and feature in method.features
    return Grant.AVAILABLE if granted else Grant.UNAVAILABLE


def maximum(overcapture: Grant | None, amount: int) -> int:
    """The most a hold of ``amount`` may be captured for: above it only with overcapture."""
    if overcapture is Grant.AVAILABLE:
        return amount + amount * OVERCAPTURE_PERCENT // 100
    return amount


def _hold(intent: PaymentIntent) -> Charge:
    return intent.charges[-1]


# -- capture -----------------------------------------------------------------------------------


def capture(
    profile: Profile,
    intent: PaymentIntent,
    params: CaptureParams,
    method: PaymentMethod | None,
    *,
    now: int,
    attempt_id: str,
) -> ProcessorCall:
    """Collect all or part of the hold. A final capture (the default) releases whatever it does
    not take; ``final_capture=False`` on a multicapture hold keeps the rest for later captures."""
    require(CAPTURE, intent.status)
    hold = _hold(intent)
    final = params.final_capture is not False
    if not final and hold.multicapture is not Grant.AVAILABLE:
        raise parameter_invalid(
            "final_capture",
            "final_capture=false needs multicapture, which this PaymentIntent was not granted: "
            "request it with payment_method_options[card][request_multicapture]=if_available.",
        )
    if hold.captures >= MAX_CAPTURES:
        raise InvalidRequestError(
            f"This PaymentIntent has been captured {MAX_CAPTURES} times, the most a hold allows.",
            code="payment_intent_unexpected_state",
        )
    # An overcapture is a single capture of the whole hold, never part of a multicapture.
    overcapture = final and hold.captures == 0 and hold.overcapture is Grant.AVAILABLE
    ceiling = hold.maximum_amount_capturable if overcapture else None
    amount = profile.capture_amount(params.amount_to_capture, intent.amount_capturable, ceiling)
    # Capturing all that is left leaves nothing to hold on to: that capture is the final one.
    final = final or amount >= intent.amount_capturable
    attempt = payment_methods.attempt(profile, intent, method, attempt_id)
    # Checked before the processor is asked: a refused capture must not have collected anything.
    extra: dict[str, Any] = {}
    if params.metadata is not None:
        extra["metadata"] = merge_metadata(intent.metadata, params.metadata)

    def finish(outcome: Outcome) -> Change:
        if isinstance(outcome, Declined):
            raise CardError(
                outcome.message,
                code=outcome.code,
                decline_code=outcome.decline_code,
                payment_intent=intent,
            )
        left = max(intent.amount_capturable - amount, 0)
        captured = hold.model_copy(
            update={
                "captured": True,
                "amount_captured": hold.amount_captured + amount,
                "amount_refunded": hold.amount_refunded + (left if final else 0),
                "captures": hold.captures + 1,
            }
        )
        after = next_version(
            intent,
            now,
            status=fire(intent.status, "capture" if final else "capture_part"),
            amount_received=intent.amount_received + amount,
            amount_capturable=0 if final else left,
            charges=(*intent.charges[:-1], captured),
            **extra,
        )
        event = EventType.SUCCEEDED if final else EventType.AMOUNT_CAPTURABLE_UPDATED
        return Change(after, ((event, changed(intent, after)),))

    return ProcessorCall("capture", attempt, finish, amount=amount)


# -- incremental authorization -----------------------------------------------------------------


def increment(
    profile: Profile,
    intent: PaymentIntent,
    params: IncrementParams,
    method: PaymentMethod | None,
    *,
    now: int,
    attempt_id: str,
) -> ProcessorCall:
    """Raise a granted hold to the new total ``amount``. A decline changes nothing but the count
    of attempts: the hold stays capturable for its old amount, within the same window."""
    require(INCREMENT, intent.status)
    hold = _hold(intent)
    if hold.incremental_authorization is not Grant.AVAILABLE:
        raise InvalidRequestError(
            "This PaymentIntent was not granted incremental authorization: request it with "
            "payment_method_options[card][request_incremental_authorization]=if_available.",
            code="payment_intent_unexpected_state",
        )
    if hold.captures > 0:
        raise InvalidRequestError(
            "A hold cannot be incremented once part of it has been captured.",
            code="payment_intent_unexpected_state",
        )
    if hold.increments >= MAX_INCREMENTS:
        raise InvalidRequestError(
            f"This PaymentIntent's hold has been incremented {MAX_INCREMENTS} times, the most "
            "it allows.",
            code="payment_intent_unexpected_state",
        )
    if params.amount <= intent.amount:
        raise parameter_invalid(
            "amount",
            f"The new amount ({params.amount}) must be greater than the current amount "
            f"({intent.amount}).",
        )
    profile.check_amount(params.amount, intent.currency)
    attempt = payment_methods.attempt(profile, intent, method, attempt_id)
    extra: dict[str, Any] = {}
    if params.description is not None:
        extra["description"] = params.description or None
    if params.metadata is not None:
        extra["metadata"] = merge_metadata(intent.metadata, params.metadata)

    def finish(outcome: Outcome) -> Change:
        counted = {"increments": hold.increments + 1}
        if isinstance(outcome, Declined):
            tried = hold.model_copy(update=counted)
            after = next_version(intent, now, charges=(*intent.charges[:-1], tried))
            error = CardError(
                outcome.message,
                code=outcome.code,
                decline_code=outcome.decline_code,
                payment_intent=after,
            )
            return Change(after, (), error)
        if hold.maximum_amount_capturable is not None:
            counted["maximum_amount_capturable"] = maximum(hold.overcapture, params.amount)
        raised = hold.model_copy(update={"amount": params.amount, **counted})
        after = next_version(
            intent,
            now,
            status=fire(intent.status, "increment"),
            amount=params.amount,
            amount_capturable=params.amount,
            charges=(*intent.charges[:-1], raised),
            **extra,
        )
        return Change(after, ((EventType.AMOUNT_CAPTURABLE_UPDATED, changed(intent, after)),))

    return ProcessorCall("increment_authorization", attempt, finish, amount=params.amount)


# -- release: cancel and the window's end ------------------------------------------------------


def cancel(
    profile: Profile,
    intent: PaymentIntent,
    params: CancelParams,
    method: PaymentMethod | None,
    *,
    now: int,
    attempt_id: str,
) -> Decision:
    """Cancel from one of the profile's cancelable statuses; a hold is released at the processor.
    A hold already partly captured is closed instead: the rest released, the intent succeeded."""
    require(CANCEL, intent.status, within=profile.cancelable)
    reason = CancellationReason(params.cancellation_reason) if params.cancellation_reason else None

    def canceled() -> Change:
        after = next_version(intent, now, **release(intent, CANCEL.name, reason, at=now))
        return Change(after, ((_release_event(after), changed(intent, after)),))

    if intent.amount_capturable == 0:
        return canceled()
    attempt = payment_methods.attempt(profile, intent, method, attempt_id)

    def finish(outcome: Outcome) -> Change:
        if isinstance(outcome, Declined):
            raise CardError(outcome.message, code=outcome.code, payment_intent=intent)
        return canceled()

    return ProcessorCall("release", attempt, finish)


def release(
    intent: PaymentIntent,
    operation: str,
    reason: CancellationReason | None,
    *,
    at: int,
) -> dict[str, Any]:
    """The fields that end a hold (``operation`` is a cancel or the window's expiry), or end an
    intent with no hold: canceled, or succeeded when part of the hold was captured already."""
    captured = bool(intent.charges) and intent.charges[-1].captures > 0
    if intent.status is Status.REQUIRES_CAPTURE and captured:
        changes: dict[str, Any] = {"status": fire(intent.status, "close")}
    else:
        trigger = "expire" if operation == EXPIRE.name else "cancel"
        changes = {
            "status": fire(intent.status, trigger),
            "cancellation_reason": reason,
            "canceled_at": at,
        }
    changes.update(amount_capturable=0, next_action=None)
    if intent.amount_capturable > 0:
        hold = _hold(intent)
        released = hold.model_copy(
            update={"amount_refunded": hold.amount_refunded + intent.amount_capturable}
        )
        changes["charges"] = (*intent.charges[:-1], released)
    return changes


def _release_event(after: PaymentIntent) -> EventType:
    return EventType.SUCCEEDED if after.status is Status.SUCCEEDED else EventType.CANCELED
