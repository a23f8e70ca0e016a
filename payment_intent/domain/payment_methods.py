"""Which payment method an intent takes, and the attempt a payment with it asks of the processor.

:func:`attempt` is the one place an :class:`Attempt` is built: for a confirm and for every later
processor call on the same payment (the redirect's outcome, the settlement, a capture, a release).
"""

from __future__ import annotations

from payment_intent.domain.errors import InvalidRequestError, parameter_invalid, resource_missing
from payment_intent.domain.model import CardOptions, PaymentIntent, PaymentMethodOptions
from payment_intent.domain.outcomes import Attempt, PaymentMethod
from payment_intent.domain.params import PaymentMethodOptionsParams
from payment_intent.domain.profiles import Profile
from payment_intent.domain.status import CaptureMethod

NO_OPTIONS = PaymentMethodOptions()


#: The flexible-acquiring features a card option may request, by their names on the hold.
FEATURES = ("multicapture", "overcapture", "incremental_authorization", "extended_authorization")


def options(profile: Profile, given: PaymentMethodOptionsParams | None) -> PaymentMethodOptions:
    """The validated ``payment_method_options`` parameter as the intent keeps it."""
    if given is None or given.card is None:
        return NO_OPTIONS
    card = given.card
    requests = {
        f"request_{feature}": getattr(card, f"request_{feature}")
        for feature in FEATURES
        if getattr(card, f"request_{feature}") is not None
    }
    for name in requests:
        profile.check_flexible_acquiring(f"payment_method_options[card][{name}]")
    return PaymentMethodOptions(
        card=CardOptions(
            capture_type=CaptureMethod(card.capture_type) if card.capture_type else None,
            allowed_bins=tuple(card.allowed_bins) if card.allowed_bins is not None else None,
            allowed_funding=(
                tuple(card.allowed_funding) if card.allowed_funding is not None else None
            ),
            **requests,
        )
    )


def check(
    intent_types: tuple[str, ...],
    method_options: PaymentMethodOptions,
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
    card = method_options.card
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


def attempt(
    profile: Profile,
    intent: PaymentIntent,
    method: PaymentMethod | None,
    attempt_id: str,
) -> Attempt:
    """The attempt to pay ``intent`` with ``method`` (its attached method, once confirmed).

    Only a card can be authorized now and captured later, whichever way the manual capture was
    asked for.
    """
    if method is None:
        raise InvalidRequestError(
            "This PaymentIntent has no payment method in flight.",
            code="payment_intent_unexpected_state",
        )
    capture = profile.capture_method_for(intent, method.type)
    if capture is CaptureMethod.MANUAL and method.type != "card":
        raise parameter_invalid(
            "payment_method",
            f"Payment method type {method.type} does not support capture_method=manual; "
            "only cards can be authorized now and captured later.",
        )
    return Attempt(
        intent_id=intent.id,
        attempt_id=attempt_id,
        payment_method=method,
        amount=intent.amount,
        currency=intent.currency,
        capture_manually=capture is CaptureMethod.MANUAL,
        return_url=intent.return_url,
        authenticated=(
            intent.authenticated_payment_method is not None
            and intent.authenticated_payment_method == method.id
        ),
    )
