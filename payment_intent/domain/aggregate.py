"""What each command does to a PaymentIntent: pure decisions, no I/O.

A command takes the intent as it stands (as of the request's time), its validated parameters and
the time. It either decides outright and returns a :class:`Change`, or it needs the processor's
answer first and returns a :class:`ProcessorCall`: what to ask, and how to finish once answered.
Each command checks the statuses it accepts exactly once, through :func:`lifecycle.require`, and
moves the status only through the shared machine.
"""

from __future__ import annotations

from typing import Any

from payment_intent.domain import holds, payment_methods
from payment_intent.domain.decisions import Decision, ProcessorCall, merge_metadata, next_version
from payment_intent.domain.errors import CardError, InvalidRequestError, parameter_invalid
from payment_intent.domain.events import Change, changed
from payment_intent.domain.lifecycle import (
    ANNOTATE,
    COMPLETE_ACTION,
    CONFIRM,
    SETTLE,
    UPDATE,
    fire,
    require,
)
from payment_intent.domain.model import (
    INTENT_FIELDS,
    Address,
    Charge,
    ChargeStatus,
    NextAction,
    PaymentError,
    PaymentIntent,
    Shipping,
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
    ConfirmParams,
    CreateParams,
    ShippingParams,
    UpdateParams,
)
from payment_intent.domain.profiles import Profile
from payment_intent.domain.status import (
    CaptureMethod,
    ConfirmationMethod,
    EventType,
    Status,
)

AUTHENTICATION_FAILURE = "payment_intent_authentication_failure"

#: Charges an intent keeps, newest last: every attempt's charge would make each stored version and
#: event grow with the number of declines. Older attempts stay in the event feed.
CHARGES_KEPT = 10


def _shipping(given: ShippingParams | str) -> Shipping | None:
    """``shipping`` as the intent keeps it; ``""`` clears it."""
    if isinstance(given, str):
        return None
    return Shipping(
        address=Address(**given.address.model_dump()),
        **given.model_dump(exclude={"address"}),
    )


def _customer_facing(params: Any) -> dict[str, Any]:
    """The fields about the customer a create, update or confirm sets (``""`` clears one)."""
    changes: dict[str, Any] = {}
    given = params.model_fields_set
    if "receipt_email" in given:
        changes["receipt_email"] = params.receipt_email or None
    if "shipping" in given:
        changes["shipping"] = _shipping(params.shipping) if params.shipping is not None else None
    if "setup_future_usage" in given:
        changes["setup_future_usage"] = params.setup_future_usage or None
    return changes


# -- create and update -------------------------------------------------------------------------


def create(
    profile: Profile,
    params: CreateParams,
    method: PaymentMethod | None,
    *,
    intent_id: str,
    client_secret: str,
    now: int,
    livemode: bool,
    attempt_id: str,
    charge_id: str,
) -> Decision:
    """A new intent: requires_payment_method, or requires_confirmation when a method is given;
    with ``confirm`` the same request also attempts the payment, stored as one version."""
    currency = profile.currency(params.currency)
    profile.check_amount(params.amount, currency)
    profile.check_capture_method(params.capture_method)
    types = tuple(params.payment_method_types or ("card",))
    profile.check_payment_method_types(types, "payment_method_types")
    if params.statement_descriptor is not None:
        profile.check_statement_descriptor(params.statement_descriptor)
    if params.statement_descriptor_suffix is not None:
        profile.check_statement_descriptor(
            params.statement_descriptor_suffix, "statement_descriptor_suffix"
        )
    method_options = payment_methods.options(profile, params.payment_method_options)
    if params.payment_method is not None:
        payment_methods.check(
            types, method_options, method, params.payment_method, _method_param(params)
        )
    created = PaymentIntent.model_construct(
        INTENT_FIELDS,
        id=intent_id,
        amount=params.amount,
        amount_capturable=0,
        amount_received=0,
        currency=currency,
        status=(
            Status.REQUIRES_CONFIRMATION
            if params.payment_method is not None
            else Status.REQUIRES_PAYMENT_METHOD
        ),
        customer=params.customer,
        payment_method=params.payment_method,
        payment_method_types=types,
        payment_method_options=method_options,
        description=params.description or None,
        statement_descriptor=params.statement_descriptor,
        statement_descriptor_suffix=params.statement_descriptor_suffix,
        receipt_email=params.receipt_email,
        shipping=_shipping(params.shipping) if params.shipping is not None else None,
        setup_future_usage=params.setup_future_usage,
        client_secret=client_secret,
        capture_method=CaptureMethod(params.capture_method),
        confirmation_method=ConfirmationMethod(params.confirmation_method),
        return_url=params.return_url,
        charges=(),
        last_payment_error=None,
        next_action=None,
        metadata=merge_metadata({}, params.metadata or {}),
        capture_before_at=None,
        cancellation_reason=None,
        canceled_at=None,
        livemode=livemode,
        created=now,
        updated_at=now,
        version=1,
        authenticated_payment_method=None,
    )
    created_event: tuple[tuple[EventType, dict[str, Any]], ...] = ((EventType.CREATED, {}),)
    if not params.confirm:
        return Change(created, created_event)
    # Confirmed in the same request: decide on a draft one version back, so that the intent is
    # stored once, as version 1, with both events.
    call = confirm(
        profile,
        created.evolve(version=0),
        ConfirmParams.model_construct(
            payment_method=params.payment_method,
            return_url=params.return_url,
            off_session=params.off_session,
            error_on_requires_action=params.error_on_requires_action,
            payment_method_options=None,
        ),
        method,
        now=now,
        attempt_id=attempt_id,
        charge_id=charge_id,
    )

    def finish(outcome: Outcome) -> Change:
        change = call.finish(outcome)
        return Change(change.intent, created_event + change.events, change.error)

    return ProcessorCall(call.request, call.attempt, finish)


def update(
    profile: Profile,
    intent: PaymentIntent,
    params: UpdateParams,
    method: PaymentMethod | None,
    now: int,
) -> Change:
    """Change what may still change; a new payment method returns the intent to confirmation."""
    restricted = sorted(params.model_fields_set & RESTRICTED_UPDATE_FIELDS)
    if restricted:
        require(UPDATE, intent.status, param=restricted[0])
    else:
        require(ANNOTATE, intent.status)
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
    method_options = intent.payment_method_options
    if params.payment_method_options is not None:
        method_options = payment_methods.options(profile, params.payment_method_options)
        changes["payment_method_options"] = method_options
    if params.capture_method is not None:
        profile.check_capture_method(params.capture_method)
        changes["capture_method"] = CaptureMethod(params.capture_method)
    if params.statement_descriptor is not None:
        profile.check_statement_descriptor(params.statement_descriptor)
        changes["statement_descriptor"] = params.statement_descriptor
    if params.statement_descriptor_suffix:
        profile.check_statement_descriptor(
            params.statement_descriptor_suffix, "statement_descriptor_suffix"
        )
    if params.statement_descriptor_suffix is not None:
        changes["statement_descriptor_suffix"] = params.statement_descriptor_suffix or None
    if params.customer is not None:
        changes["customer"] = params.customer
    changes.update(_customer_facing(params))
    if params.description is not None:
        changes["description"] = params.description or None
    if params.metadata is not None:
        changes["metadata"] = merge_metadata(intent.metadata, params.metadata)
    if params.payment_method is not None:
        payment_methods.check(types, method_options, method, params.payment_method)
        changes["payment_method"] = params.payment_method
        changes["status"] = fire(intent.status, "attach_payment_method")
        changes["next_action"] = None
        changes["authenticated_payment_method"] = None
    elif (
        intent.payment_method is not None
        and "payment_method_types" in changes
        and method is not None
        and method.type not in types
    ):
        # The attached method must stay acceptable under the new list of types.
        raise parameter_invalid(
            "payment_method_types",
            f"The attached payment method has type {method.type}, which the new "
            "payment_method_types would not allow.",
        )
    return Change(next_version(intent, now, **changes))


# -- payment attempts --------------------------------------------------------------------------


def confirm(
    profile: Profile,
    intent: PaymentIntent,
    params: ConfirmParams,
    method: PaymentMethod | None,
    *,
    now: int,
    attempt_id: str,
    charge_id: str,
) -> ProcessorCall:
    """Attempt the payment: attach the method and return URL, and ask the processor."""
    require(CONFIRM, intent.status)
    method_id = params.payment_method or intent.payment_method
    if method_id is None:
        raise InvalidRequestError(
            "You cannot confirm this PaymentIntent because it's missing a payment method. To "
            "confirm the PaymentIntent, pass a payment_method, or update it with one first.",
            code="payment_intent_unexpected_state",
            param="payment_method",
        )
    method_options = intent.payment_method_options
    if params.payment_method_options is not None:
        method_options = payment_methods.options(profile, params.payment_method_options)
    payment_methods.check(
        intent.payment_method_types, method_options, method, method_id, _method_param(params)
    )
    changes: dict[str, Any] = {"payment_method": method_id, **_customer_facing(params)}
    if params.payment_method_options is not None:
        changes["payment_method_options"] = method_options
    if params.return_url is not None:
        changes["return_url"] = params.return_url
    if method_id != intent.authenticated_payment_method:
        changes["authenticated_payment_method"] = None
    attached = intent.evolve(**changes)
    attempt = payment_methods.attempt(profile, attached, method, attempt_id)
    # Off session the customer is not there to authenticate, and error_on_requires_action asks
    # for a decline instead of a redirect: either way an authentication is a decline.
    no_action = bool(params.off_session) or bool(params.error_on_requires_action)
    return ProcessorCall(
        "authorize",
        attempt,
        lambda outcome: _outcome(
            profile,
            intent,
            attached,
            attempt,
            AUTHENTICATION_REQUIRED if no_action and _needs_action(outcome) else outcome,
            now,
            charge_id,
            raise_decline=True,
        ),
    )


#: What an attempt that needs the customer's authentication ends as when none can be asked for.
AUTHENTICATION_REQUIRED = Declined(
    "authentication_required",
    "Your card was declined. This transaction requires authentication.",
    "authentication_required",
)


def _needs_action(outcome: Outcome) -> bool:
    return isinstance(outcome, AuthenticationRequired)


def _method_param(params: Any) -> str:
    """The parameter to name when the method is refused: the one the caller gave it by."""
    if "payment_method_data" in params.model_fields_set and params.payment_method_data is not None:
        return "payment_method_data"
    return "payment_method"


def complete_action(
    profile: Profile,
    intent: PaymentIntent,
    succeed: bool,
    method: PaymentMethod | None,
    *,
    now: int,
    attempt_id: str,
    charge_id: str,
) -> Decision:
    """Test mode: the customer came back from the redirect, authenticated (``succeed``) or not.

    A decline here is recorded, not raised: no API caller made this request, the browser did.
    """
    require(COMPLETE_ACTION, intent.status)
    if not succeed:
        error = PaymentError(
            type="invalid_request_error",
            code=AUTHENTICATION_FAILURE,
            message=(
                "The provided PaymentMethod has failed authentication. You can provide "
                "payment_method_data or a new PaymentMethod to attempt to fulfill this "
                "PaymentIntent again."
            ),
            payment_method=intent.payment_method,
        )
        return _fail(intent, intent, now, error=error, raise_decline=False)
    if intent.confirmation_method is ConfirmationMethod.MANUAL:
        # Under manual confirmation the server confirms again; its confirm will not ask again.
        after = next_version(
            intent,
            now,
            status=fire(intent.status, "await_confirmation"),
            next_action=None,
            authenticated_payment_method=intent.payment_method,
        )
        return Change(after)
    attempt = payment_methods.attempt(profile, intent, method, attempt_id)
    return ProcessorCall(
        "complete_authentication",
        attempt,
        lambda outcome: _outcome(
            profile, intent, intent, attempt, outcome, now, charge_id, raise_decline=False
        ),
    )


def settle(
    profile: Profile,
    intent: PaymentIntent,
    succeed: bool,
    method: PaymentMethod | None,
    *,
    now: int,
    attempt_id: str,
    charge_id: str,
) -> ProcessorCall:
    """Test mode: the asynchronous method in flight succeeds or fails; the outcome is recorded."""
    require(SETTLE, intent.status)
    attempt = payment_methods.attempt(profile, intent, method, attempt_id)
    return ProcessorCall(
        "settle",
        attempt,
        lambda outcome: _outcome(
            profile, intent, intent, attempt, outcome, now, charge_id, raise_decline=False
        ),
        succeed=succeed,
    )


def _outcome(
    profile: Profile,
    before: PaymentIntent,
    attached: PaymentIntent,
    attempt: Attempt,
    outcome: Outcome,
    now: int,
    charge_id: str,
    *,
    raise_decline: bool,
) -> Change:
    """Turn the processor's answer to an attempt into the next version and its event."""
    settling = attached.status is Status.PROCESSING
    changes: dict[str, Any] = {"next_action": None}
    if isinstance(outcome, AuthenticationRequired):
        changes["status"] = fire(attached.status, "require_action")
        changes["next_action"] = NextAction(
            redirect_url=outcome.redirect_url, return_url=attached.return_url
        )
        event = EventType.REQUIRES_ACTION
    elif isinstance(outcome, Pending):
        changes["status"] = fire(attached.status, "start_processing")
        pending = _charge(charge_id, attempt, "pending", now)
        changes["charges"] = _appended(attached.charges, pending)
        event = EventType.PROCESSING
    elif isinstance(outcome, Approved):
        changes["last_payment_error"] = None
        changes["authenticated_payment_method"] = None
        if attempt.capture_manually:
            changes["status"] = fire(attached.status, "authorize")
            changes["amount_capturable"] = attached.amount
            hold, changes["capture_before_at"] = holds.place(
                profile, attached, _charge(charge_id, attempt, "succeeded", now), attempt, now
            )
            changes["charges"] = _appended(attached.charges, hold)
            event = EventType.AMOUNT_CAPTURABLE_UPDATED
        else:
            changes["status"] = fire(attached.status, "succeed")
            changes["amount_received"] = attached.amount
            charge = _charge(charge_id, attempt, "succeeded", now).model_copy(
                update={"captured": True, "amount_captured": attached.amount}
            )
            changes["charges"] = _replace_pending(attached, charge, settling)
            event = EventType.SUCCEEDED
    else:
        error = PaymentError(
            type="card_error",
            code=outcome.code,
            message=outcome.message,
            decline_code=outcome.decline_code,
            payment_method=attempt.payment_method.id,
        )
        charge = _charge(charge_id, attempt, "failed", now, outcome)
        return _fail(
            attached,
            before,
            now,
            error=error,
            charge=charge,
            replace_pending=settling,
            raise_decline=raise_decline,
        )
    after = next_version(attached, now, **changes)
    return Change(after, ((event, changed(before, after)),))


def _charge(
    charge_id: str,
    attempt: Attempt,
    status: ChargeStatus,
    now: int,
    declined: Declined | None = None,
) -> Charge:
    return Charge(
        id=charge_id,
        amount=attempt.amount,
        status=status,
        payment_method=attempt.payment_method.id,
        payment_method_type=attempt.payment_method.type,
        failure_code=declined.code if declined else None,
        failure_message=declined.message if declined else None,
        decline_code=declined.decline_code if declined else None,
        created=now,
    )


def _replace_pending(intent: PaymentIntent, charge: Charge, settling: bool) -> tuple[Charge, ...]:
    """A settling method resolves its pending charge in place (same id) instead of adding one."""
    if settling and intent.charges and intent.charges[-1].status == "pending":
        pending = intent.charges[-1]
        resolved = charge.model_copy(update={"id": pending.id, "created": pending.created})
        return (*intent.charges[:-1], resolved)
    return _appended(intent.charges, charge)


def _appended(charges: tuple[Charge, ...], charge: Charge) -> tuple[Charge, ...]:
    """``charges`` with ``charge`` last, keeping the :data:`CHARGES_KEPT` newest."""
    return (*charges, charge)[-CHARGES_KEPT:]


def _fail(
    intent: PaymentIntent,
    before: PaymentIntent,
    now: int,
    *,
    error: PaymentError,
    charge: Charge | None = None,
    replace_pending: bool = False,
    raise_decline: bool,
) -> Change:
    changes: dict[str, Any] = {
        "status": fire(intent.status, "fail"),
        "last_payment_error": error,
        "payment_method": None,
        "next_action": None,
        "authenticated_payment_method": None,
    }
    if charge is not None:
        changes["charges"] = _replace_pending(intent, charge, replace_pending)
    after = next_version(intent, now, **changes)
    raised = None
    if raise_decline:
        raised = CardError(
            error.message,
            code=error.code,
            param="payment_method" if error.type == "card_error" else None,
            decline_code=error.decline_code,
            payment_intent=after,
        )
    return Change(after, ((EventType.PAYMENT_FAILED, changed(before, after)),), raised)
