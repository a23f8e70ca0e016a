"""The provider profiles: the rules on which CasaPay and PayRex differ.

Only rules live here; how each provider spells things on the wire belongs to ``dialects``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from payment_intent.domain import currencies
from payment_intent.domain.errors import (
    InvalidRequestError,
    parameter_invalid,
    parameter_missing,
)
from payment_intent.domain.model import PaymentIntent
from payment_intent.domain.status import CaptureMethod, Status

AUTHORIZATION_WINDOW = 7 * 24 * 3600

_FORBIDDEN_DESCRIPTOR = re.compile(r"[<>\\'\"*]")
_LATIN_DESCRIPTOR = re.compile(r"[\x20-\x7e\u00a0-\u024f]*")
_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")


@dataclass(frozen=True, slots=True)
class Profile:
    """A provider's rules. Use :data:`CASAPAY` or :data:`PAYREX`, or :func:`get_profile` by name."""

    name: str
    currencies: frozenset[str] | None  # None: every ISO 4217 currency
    maximum_amount: int
    minimum_amount: int | None  # None: the currency's own minimum (the 0.50 equivalent)
    payment_method_types: frozenset[str]
    cancelable: tuple[Status, ...]
    capture_amount_required: bool
    capture_minimum: int
    statement_descriptor_min: int
    statement_descriptor_strict: bool
    manual_capture_cards_only: bool
    authorization_window: int = AUTHORIZATION_WINDOW
    #: Stripe's ``automatic_async`` capture (captured at once, booked later) exists here.
    asynchronous_capture: bool = False
    #: Multicapture, overcapture, incremental and extended authorization may be requested (Stripe);
    #: without them a hold is captured once (PayRex).
    flexible_acquiring: bool = False
    #: The reasons a caller may give a refund.
    refund_reasons: frozenset[str] = frozenset()

    # -- field rules -------------------------------------------------------------------------

    def check_capture_method(self, value: str, param: str = "capture_method") -> None:
        if value == "automatic_async" and not self.asynchronous_capture:
            raise parameter_invalid(
                param, "Invalid capture_method: must be one of automatic or manual."
            )

    def currency(self, value: str, param: str = "currency") -> str:
        """Validate a currency code and return its canonical (lower-case) form."""
        code = value.lower()
        if not currencies.is_currency(code) or (
            self.currencies is not None and code not in self.currencies
        ):
            allowed = (
                "a supported ISO 4217 currency code"
                if self.currencies is None
                else "one of: " + ", ".join(sorted(c.upper() for c in self.currencies))
            )
            raise parameter_invalid(param, f"Invalid currency: {value}. Must be {allowed}.")
        return code

    def amount_bounds(self, currency: str) -> tuple[int, int]:
        """The smallest and largest amount an intent in ``currency`` may have, in minor units."""
        minimum = (
            self.minimum_amount
            if self.minimum_amount is not None
            else currencies.minimum_amount(currency)
        )
        return minimum, self.maximum_amount

    def check_amount(self, amount: int, currency: str, param: str = "amount") -> None:
        low, high = self.amount_bounds(currency)
        if amount < low:
            raise InvalidRequestError(
                f"Amount must be at least {low} {currency} (in the currency's minor unit).",
                code="amount_too_small",
                param=param,
            )
        if amount > high:
            raise InvalidRequestError(
                f"Amount must be no more than {high} {currency} (in the currency's minor unit).",
                code="amount_too_large",
                param=param,
            )

    def check_payment_method_types(self, types: tuple[str, ...], param: str) -> None:
        for kind in types:
            if kind not in self.payment_method_types:
                raise parameter_invalid(
                    param,
                    f"The payment method type {kind!r} is invalid. Supported types: "
                    + ", ".join(sorted(self.payment_method_types))
                    + ".",
                )

    def check_statement_descriptor(self, value: str, param: str = "statement_descriptor") -> None:
        if len(value) > 22 or len(value) < self.statement_descriptor_min:
            low = self.statement_descriptor_min
            span = f"between {low} and 22" if low else "at most 22"
            raise parameter_invalid(param, f"The statement descriptor must be {span} characters.")
        if self.statement_descriptor_strict and (
            _FORBIDDEN_DESCRIPTOR.search(value)
            or not _LATIN_DESCRIPTOR.fullmatch(value)
            or not _LETTER.search(value)
        ):
            raise parameter_invalid(
                param,
                "The statement descriptor must use Latin characters, contain at least one letter "
                "and none of < > \\ ' \" *.",
            )

    def capture_amount(
        self, amount_to_capture: int | None, capturable: int, ceiling: int | None = None
    ) -> int:
        """Resolve and check the amount a capture takes from a hold of ``capturable``; an
        overcapture may take up to ``ceiling`` instead (the granted maximum still capturable)."""
        if amount_to_capture is None:
            if self.capture_amount_required:
                raise parameter_missing("amount_to_capture")
            return capturable
        if amount_to_capture < self.capture_minimum:
            raise InvalidRequestError(
                f"amount_to_capture must be at least {self.capture_minimum}.",
                code="amount_too_small",
                param="amount_to_capture",
            )
        limit, what = (capturable, "amount capturable") if ceiling is None else (ceiling, "maximum")
        if amount_to_capture > limit:
            raise InvalidRequestError(
                f"The amount to capture ({amount_to_capture}) is greater than the {what} "
                f"({limit}).",
                code="amount_too_large",
                param="amount_to_capture",
            )
        return amount_to_capture

    def check_refund_reason(self, reason: str | None) -> None:
        if reason is not None and reason not in self.refund_reasons:
            raise parameter_invalid(
                "reason",
                f"Invalid reason: must be one of {', '.join(sorted(self.refund_reasons))}.",
            )

    def check_flexible_acquiring(self, param: str) -> None:
        """Refuse a request for multicapture and its kin where the provider has none."""
        if not self.flexible_acquiring:
            raise parameter_invalid(
                param, f"Received unknown parameter: {param}. {self.name} captures a hold once."
            )

    # -- capture rule ------------------------------------------------------------------------

    def capture_method_for(self, intent: PaymentIntent, payment_method_type: str) -> CaptureMethod:
        """How an approved attempt with a method of this type is captured.

        A card's ``payment_method_options.card.capture_type`` overrides the intent's
        ``capture_method`` (Stripe's per-method override); under PayRex the card option is the only
        switch and every other method captures automatically.
        """
        card = intent.payment_method_options.card
        if payment_method_type == "card" and card is not None and card.capture_type is not None:
            return card.capture_type
        if self.manual_capture_cards_only and payment_method_type != "card":
            return CaptureMethod.AUTOMATIC
        return intent.capture_method


CASAPAY = Profile(
    name="casapay",
    currencies=None,
    maximum_amount=currencies.MAXIMUM_AMOUNT,
    minimum_amount=None,
    payment_method_types=frozenset({"card", "open_banking", "direct_debit"}),
    cancelable=(
        Status.REQUIRES_PAYMENT_METHOD,
        Status.REQUIRES_CONFIRMATION,
        Status.REQUIRES_ACTION,
        Status.REQUIRES_CAPTURE,
    ),
    capture_amount_required=False,
    capture_minimum=1,
    statement_descriptor_min=5,
    statement_descriptor_strict=True,
    manual_capture_cards_only=False,
    asynchronous_capture=True,
    flexible_acquiring=True,
    refund_reasons=frozenset({"duplicate", "fraudulent", "requested_by_customer"}),
)

PAYREX = Profile(
    name="payrex",
    currencies=frozenset({"php"}),
    maximum_amount=5_999_999_999,
    minimum_amount=2_000,
    payment_method_types=frozenset({"card", "gcash", "maya", "qrph"}),
    cancelable=(Status.REQUIRES_PAYMENT_METHOD, Status.REQUIRES_CONFIRMATION),
    capture_amount_required=True,
    capture_minimum=2_000,
    statement_descriptor_min=0,
    statement_descriptor_strict=False,
    manual_capture_cards_only=True,
    refund_reasons=frozenset(
        {
            "fraudulent",
            "requested_by_customer",
            "product_out_of_stock",
            "service_not_provided",
            "product_was_damaged",
            "service_misaligned",
            "wrong_product_received",
            "others",
        }
    ),
)

PROFILES: dict[str, Profile] = {p.name: p for p in (CASAPAY, PAYREX)}


def get_profile(profile: str | Profile) -> Profile:
    """Look a profile up by name (``"casapay"`` or ``"payrex"``); a Profile passes through."""
    if isinstance(profile, Profile):
        return profile
    try:
        return PROFILES[profile]
    except (KeyError, TypeError):
        raise parameter_invalid(
            "profile", f"Unknown profile {profile!r}; expected one of: casapay, payrex."
        ) from None
