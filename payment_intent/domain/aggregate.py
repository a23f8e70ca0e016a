"""What each command does to a PaymentIntent: pure decisions, no I/O.

Every function takes the intent as it stands, the validated parameters, the time and (for payment
attempts) the processor's outcome, and returns a :class:`Change`: the next version of the intent and
the events it emits. Status moves go through the shared machine in :mod:`lifecycle`; the rules that
depend on the provider come from the :class:`Profile`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from pydantic import BaseModel

from payment_intent.domain.errors import (
    CardError,
    InvalidRequestError,
    PaymentIntentError,
    parameter_invalid,
    resource_missing,
)
from payment_intent.domain.lifecycle import advance, require_status
from payment_intent.domain.model import (
    NO_METADATA,
    CardOptions,
    Charge,
    ChargeStatus,
    FrozenDict,
    NextAction,
    PaymentError,
    PaymentIntent,
    PaymentMethodOptions,
    replace,
    trusted,
)
from payment_intent.domain.outcomes import (
    Approved,
    Attempt,
    AuthenticationRequired,
    Declined,
    Outcome,
    PaymentMethod,
    Pending,
)
from payment_intent.domain.params import (
    RESTRICTED_UPDATE_FIELDS,
    CancelParams,
    CaptureParams,
    ConfirmParams,
    CreateParams,
    PaymentMethodOptionsParams,
    UpdateParams,
)
from payment_intent.domain.profiles import Profile
from payment_intent.domain.status import (
    CancellationReason,
    CaptureMethod,
    ConfirmationMethod,
    EventType,
    Status,
)

AUTHENTICATION_FAILURE = "payment_intent_authentication_failure"

#: Fields an event's ``previous_attributes`` never reports: bookkeeping, not business state.
_UNREPORTED = frozenset({"version", "updated_at", "authenticated_payment_method"})


@dataclass(frozen=True, slots=True)
class Change:
    """The result of a command: the new version, its events, and an error to raise once stored."""

    intent: PaymentIntent
    events: tuple[tuple[EventType, dict[str, Any]], ...] = ()
    error: PaymentIntentError | None = field(default=None)


#: Models whose fields all hold plain JSON values (str, int, bool, None): their JSON form is their
#: field dict, which is much cheaper than ``model_dump``.
_FLAT_MODELS = frozenset({Charge, PaymentError, NextAction})


def previous_attributes(before: PaymentIntent, after: PaymentIntent) -> dict[str, Any]:
    """The fields a change touched, with the values they had before (as JSON-ready data)."""
    old = before.__dict__
    return {
        name: _json_ready(old[name])
        for name, value in after.__dict__.items()
        if old[name] is not value and old[name] != value and name not in _UNREPORTED
    }


def _json_ready(value: Any) -> Any:
    """``value`` as ``model_dump(mode="json")`` renders it, for the types an intent holds."""
    if value is None or type(value) in (str, int, bool):
        return value
    if isinstance(value, Enum):
        return value._value_
    if type(value) in _FLAT_MODELS:
        return dict(value.__dict__)  # every field already JSON-ready
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, tuple):
        return [_json_ready(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    raise TypeError(f"no JSON form for {type(value).__name__}")


def _next(intent: PaymentIntent, now: int, **changes: Any) -> PaymentIntent:
    return intent.evolve(
        version=intent.version + 1, updated_at=max(now, intent.updated_at), **changes
    )


# -- payment methods ---------------------------------------------------------------------------


def check_payment_method(
    intent_types: tuple[str, ...],
    options: PaymentMethodOptions,
    method: PaymentMethod | None,
    method_id: str,
    param: str = "payment_method",
) -> PaymentMethod:
    """Refuse an unknown method, one whose type the intent does not allow, or a card it excludes."""
    if method is None:
        raise resource_missing(param, "payment_method", method_id)
    if method.type not in intent_types:
        raise parameter_invalid(
            param,
            f"The PaymentMethod provided ({method.id}) has type {method.type}, which is not one of "
            f"this PaymentIntent's payment_method_types: {', '.join(intent_types)}.",
        )
    card = options.card
    if method.type == "card" and card is not None:
        if card.allowed_bins is not None and method.card_bin not in card.allowed_bins:
            raise parameter_invalid(
                param, "This card's BIN is not in payment_method_options.card.allowed_bins."
            )
        if card.allowed_funding is not None and method.card_funding not in card.allowed_funding:
            raise parameter_invalid(
                param,
                f"This card's funding ({method.card_funding}) is not in "
                "payment_method_options.card.allowed_funding.",
            )
    return method


_NO_OPTIONS = PaymentMethodOptions()


def _options(given: PaymentMethodOptionsParams | None) -> PaymentMethodOptions:
    if given is None or given.card is None:
        return _NO_OPTIONS
    card = given.card
    return PaymentMethodOptions(
        card=CardOptions(
            capture_type=CaptureMethod(card.capture_type) if card.capture_type else None,
            allowed_bins=tuple(card.allowed_bins) if card.allowed_bins is not None else None,
            allowed_funding=tuple(card.allowed_funding)
            if card.allowed_funding is not None
            else None,
        )
    )


def _merge_metadata(current: dict[str, str], given: dict[str, str]) -> FrozenDict:
    """An empty value removes its key, as the providers do; the result must stay within limits."""
    merged = dict(current)
    for key, value in given.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > 50:
        raise parameter_invalid("metadata", "Metadata can have at most 50 keys.")
    return FrozenDict(merged) if merged else NO_METADATA


# -- create and update -------------------------------------------------------------------------


def create(
    profile: Profile,
    params: CreateParams,
    method: PaymentMethod | None,
    *,
    intent_id: str,
    client_secret: str,
    now: int,
    livemode: bool = False,
) -> PaymentIntent:
    """A new intent: requires_payment_method, or requires_confirmation when a method is given."""
    currency = profile.currency(params.currency)
    profile.check_amount(params.amount, currency)
    types = tuple(params.payment_method_types or ("card",))
    profile.check_payment_method_types(types, "payment_method_types")
    if params.statement_descriptor is not None:
        profile.check_statement_descriptor(params.statement_descriptor)
    options = _options(params.payment_method_options)
    if params.payment_method is not None:
        check_payment_method(types, options, method, params.payment_method)
    # Every value below was validated as a parameter or checked above: no second validation.
    return trusted(
        PaymentIntent,
        {
            "id": intent_id,
            "amount": params.amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "currency": currency,
            "status": (
                Status.REQUIRES_CONFIRMATION
                if params.payment_method is not None
                else Status.REQUIRES_PAYMENT_METHOD
            ),
            "customer": params.customer,
            "payment_method": params.payment_method,
            "payment_method_types": types,
            "payment_method_options": options,
            "description": params.description or None,
            "statement_descriptor": params.statement_descriptor,
            "client_secret": client_secret,
            "capture_method": CaptureMethod(params.capture_method),
            "confirmation_method": ConfirmationMethod(params.confirmation_method),
            "return_url": params.return_url,
            "charges": (),
            "last_payment_error": None,
            "next_action": None,
            "metadata": _merge_metadata({}, params.metadata or {}),
            "capture_before_at": None,
            "cancellation_reason": None,
            "canceled_at": None,
            "livemode": livemode,
            "created": now,
            "updated_at": now,
            "version": 1,
            "authenticated_payment_method": None,
        },
    )


def update(
    profile: Profile,
    intent: PaymentIntent,
    params: UpdateParams,
    method: PaymentMethod | None,
    now: int,
) -> Change:
    """Change what may still change; a new payment method returns the intent to confirmation."""
    given = params.model_fields_set
    restricted = given & RESTRICTED_UPDATE_FIELDS
    require_status("update" if restricted else "update_description", intent.status)
    changes: dict[str, Any] = {"last_payment_error": None}
    currency = profile.currency(params.currency) if params.currency is not None else intent.currency
    if params.currency is not None:
        changes["currency"] = currency
    if params.amount is not None or params.currency is not None:
        amount = params.amount if params.amount is not None else intent.amount
        profile.check_amount(amount, currency)
        changes["amount"] = amount
    types = intent.payment_method_types
    if params.payment_method_types is not None:
        types = tuple(params.payment_method_types)
        profile.check_payment_method_types(types, "payment_method_types")
        changes["payment_method_types"] = types
    options = intent.payment_method_options
    if params.payment_method_options is not None:
        options = _options(params.payment_method_options)
        changes["payment_method_options"] = options
    if params.capture_method is not None:
        changes["capture_method"] = CaptureMethod(params.capture_method)
    if params.statement_descriptor is not None:
        profile.check_statement_descriptor(params.statement_descriptor)
        changes["statement_descriptor"] = params.statement_descriptor
    if params.description is not None:
        changes["description"] = params.description or None
    if params.metadata is not None:
        changes["metadata"] = _merge_metadata(intent.metadata, params.metadata)
    if params.payment_method is not None:
        check_payment_method(types, options, method, params.payment_method)
        changes["payment_method"] = params.payment_method
        changes["status"] = advance(intent.status, "attach_payment_method")
        changes["next_action"] = None
        changes["authenticated_payment_method"] = None
    elif intent.payment_method is not None and "payment_method_types" in changes:
        # The attached method must stay acceptable under the new list of types.
        attached_type = method.type if method is not None else None
        if attached_type is not None and attached_type not in types:
            raise parameter_invalid(
                "payment_method_types",
                f"The attached payment method has type {attached_type}, which the new "
                "payment_method_types would not allow.",
            )
    return Change(_next(intent, now, **changes))


# -- payment attempts --------------------------------------------------------------------------


def prepare_confirm(
    profile: Profile,
    intent: PaymentIntent,
    params: ConfirmParams,
    method: PaymentMethod | None,
    *,
    attempt_id: str,
) -> tuple[PaymentIntent, Attempt]:
    """Check that a confirm may go ahead and say what to ask the processor.

    Returns the intent with the method and return URL attached (not yet a new version) and the
    attempt; the caller asks the processor and hands its outcome to :func:`apply_outcome`.
    """
    require_status("confirm", intent.status)
    method_id = params.payment_method or intent.payment_method
    if method_id is None:
        raise InvalidRequestError(
            "You cannot confirm this PaymentIntent because it's missing a payment method. To "
            "confirm the PaymentIntent, pass a payment_method, or update it with one first.",
            code="payment_intent_unexpected_state",
            param="payment_method",
        )
    check_payment_method(
        intent.payment_method_types, intent.payment_method_options, method, method_id
    )
    assert method is not None  # checked just above
    capture = profile.capture_method_for(intent, method.type)
    if capture is CaptureMethod.MANUAL and method.type != "card":
        raise parameter_invalid(
            "payment_method",
            f"Payment method type {method.type} does not support capture_method=manual; "
            "only cards can be authorized now and captured later.",
        )
    changes: dict[str, Any] = {"payment_method": method_id}
    if params.return_url is not None:
        changes["return_url"] = params.return_url
    if method_id != intent.authenticated_payment_method:
        changes["authenticated_payment_method"] = None
    attached = intent.evolve(**changes)
    attempt = Attempt(
        intent_id=intent.id,
        attempt_id=attempt_id,
        payment_method=method,
        amount=intent.amount,
        currency=intent.currency,
        capture_manually=capture is CaptureMethod.MANUAL,
        return_url=attached.return_url,
        authenticated=attached.authenticated_payment_method == method_id,
    )
    return attached, attempt


def apply_outcome(
    profile: Profile,
    before: PaymentIntent,
    attached: PaymentIntent,
    attempt: Attempt,
    outcome: Outcome,
    *,
    now: int,
    charge_id: str,
    raise_decline: bool = True,
) -> Change:
    """Turn the processor's answer to an attempt into the next version and its event."""
    method = attempt.payment_method
    settling = attached.status is Status.PROCESSING
    changes: dict[str, Any] = {"next_action": None}
    if isinstance(outcome, AuthenticationRequired):
        changes["status"] = advance(attached.status, "require_action")
        changes["next_action"] = NextAction(
            redirect_url=outcome.redirect_url, return_url=attached.return_url
        )
        event = EventType.REQUIRES_ACTION
    elif isinstance(outcome, Pending):
        changes["status"] = advance(attached.status, "start_processing")
        changes["charges"] = (*attached.charges, _charge(charge_id, attempt, "pending", now))
        event = EventType.PROCESSING
    elif isinstance(outcome, Approved):
        changes["last_payment_error"] = None
        changes["authenticated_payment_method"] = None
        if attempt.capture_manually:
            changes["status"] = advance(attached.status, "authorize")
            changes["amount_capturable"] = attached.amount
            changes["capture_before_at"] = now + profile.authorization_window
            changes["charges"] = (*attached.charges, _charge(charge_id, attempt, "succeeded", now))
            event = EventType.AMOUNT_CAPTURABLE_UPDATED
        else:
            changes["status"] = advance(
                attached.status, "settle_succeeded" if settling else "succeed"
            )
            changes["amount_received"] = attached.amount
            charge = replace(
                _charge(charge_id, attempt, "succeeded", now),
                captured=True,
                amount_captured=attached.amount,
            )
            changes["charges"] = _replace_pending(attached, charge, settling)
            event = EventType.SUCCEEDED
    else:
        return _fail(
            attached,
            before,
            now,
            trigger="settle_failed" if settling else "fail",
            error=PaymentError(
                type="card_error",
                code=outcome.code,
                message=outcome.message,
                decline_code=outcome.decline_code,
                payment_method=method.id,
            ),
            charge=_charge(charge_id, attempt, "failed", now, outcome),
            replace_pending=settling,
            raise_decline=raise_decline,
        )
    after = _next(attached, now, **changes)
    return Change(after, ((event, previous_attributes(before, after)),))


def fail_authentication(intent: PaymentIntent, now: int) -> Change:
    """The customer failed or abandoned the redirect: back to requires_payment_method."""
    require_status("complete_action", intent.status)
    error = PaymentError(
        type="invalid_request_error",
        code=AUTHENTICATION_FAILURE,
        message=(
            "The provided PaymentMethod has failed authentication. You can provide "
            "payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent "
            "again."
        ),
        payment_method=intent.payment_method,
    )
    return _fail(intent, intent, now, trigger="fail", error=error, raise_decline=False)


def await_confirmation(intent: PaymentIntent, now: int) -> Change:
    """Under manual confirmation a completed action hands the intent back to the server."""
    require_status("complete_action", intent.status)
    after = _next(
        intent,
        now,
        status=advance(intent.status, "await_confirmation"),
        next_action=None,
        authenticated_payment_method=intent.payment_method,
    )
    return Change(after)


def _charge(
    charge_id: str,
    attempt: Attempt,
    status: ChargeStatus,
    now: int,
    declined: Declined | None = None,
) -> Charge:
    return trusted(
        Charge,
        {
            "id": charge_id,
            "amount": attempt.amount,
            "amount_captured": 0,
            "amount_refunded": 0,
            "captured": False,
            "status": status,
            "payment_method": attempt.payment_method.id,
            "payment_method_type": attempt.payment_method.type,
            "failure_code": declined.code if declined else None,
            "failure_message": declined.message if declined else None,
            "decline_code": declined.decline_code if declined else None,
            "created": now,
        },
    )


def _replace_pending(intent: PaymentIntent, charge: Charge, settling: bool) -> tuple[Charge, ...]:
    """A settling method resolves its pending charge in place (same id) instead of adding one."""
    if settling and intent.charges and intent.charges[-1].status == "pending":
        pending = intent.charges[-1]
        return (
            *intent.charges[:-1],
            replace(charge, id=pending.id, created=pending.created),
        )
    return (*intent.charges, charge)


def _fail(
    intent: PaymentIntent,
    before: PaymentIntent,
    now: int,
    *,
    trigger: str,
    error: PaymentError,
    charge: Charge | None = None,
    replace_pending: bool = False,
    raise_decline: bool,
) -> Change:
    changes: dict[str, Any] = {
        "status": advance(intent.status, trigger),
        "last_payment_error": error,
        "payment_method": None,
        "next_action": None,
        "authenticated_payment_method": None,
    }
    if charge is not None:
        changes["charges"] = _replace_pending(intent, charge, replace_pending)
    after = _next(intent, now, **changes)
    raised: PaymentIntentError | None = None
    if raise_decline:
        raised = CardError(
            error.message,
            code=error.code,
            param="payment_method" if error.type == "card_error" else None,
            decline_code=error.decline_code,
            payment_intent=after,
        )
    return Change(after, ((EventType.PAYMENT_FAILED, previous_attributes(before, after)),), raised)


# -- capture, cancel, expiry -------------------------------------------------------------------


def capture(profile: Profile, intent: PaymentIntent, params: CaptureParams, now: int) -> Change:
    """Collect all or part of the hold; whatever is not captured is released on the charge."""
    require_status("capture", intent.status)
    amount = profile.check_capture_amount(params.amount_to_capture, intent)
    charges = intent.charges
    hold = charges[-1]
    captured = replace(
        hold, captured=True, amount_captured=amount, amount_refunded=hold.amount - amount
    )
    after = _next(
        intent,
        now,
        status=advance(intent.status, "capture"),
        amount_received=amount,
        amount_capturable=0,
        charges=(*charges[:-1], captured),
    )
    return Change(after, ((EventType.SUCCEEDED, previous_attributes(intent, after)),))


def cancel(profile: Profile, intent: PaymentIntent, params: CancelParams, now: int) -> Change:
    """Cancel from one of the profile's cancelable statuses, releasing any hold."""
    require_status("cancel", intent.status, profile.cancelable)
    reason = CancellationReason(params.cancellation_reason) if params.cancellation_reason else None
    status = advance(intent.status, "cancel", cancelable=profile.cancelable)
    return _cancel(intent, now, status=status, reason=reason, canceled_at=now)


def is_due(intent: PaymentIntent, now: int) -> bool:
    """Whether the intent's hold has passed ``capture_before_at`` by ``now``."""
    return (
        intent.status is Status.REQUIRES_CAPTURE
        and intent.capture_before_at is not None
        and now >= intent.capture_before_at
    )


def expire(intent: PaymentIntent, now: int) -> Change:
    """The authorization window closed: cancel with reason ``automatic`` and release the hold.

    ``canceled_at`` is the moment the hold lapsed (``capture_before_at``), whenever it is noticed.
    """
    assert intent.capture_before_at is not None
    assert is_due(intent, now)
    status = advance(intent.status, "expire")
    return _cancel(
        intent,
        now,
        status=status,
        reason=CancellationReason.AUTOMATIC,
        canceled_at=intent.capture_before_at,
    )


def _cancel(
    intent: PaymentIntent,
    now: int,
    *,
    status: Status,
    reason: CancellationReason | None,
    canceled_at: int,
) -> Change:
    changes: dict[str, Any] = {
        "status": status,
        "cancellation_reason": reason,
        "canceled_at": canceled_at,
        "amount_capturable": 0,
        "next_action": None,
    }
    if intent.amount_capturable > 0:
        hold = intent.charges[-1]
        changes["charges"] = (
            *intent.charges[:-1],
            replace(hold, amount_refunded=hold.amount),
        )
    after = _next(intent, now, **changes)
    return Change(after, ((EventType.CANCELED, previous_attributes(intent, after)),))
