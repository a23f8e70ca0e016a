"""The PaymentIntent aggregate and the values it holds, as validated, immutable pydantic models.

The aggregate carries every field of both providers' PaymentIntent under one canonical name (the
dialects rename on the wire). Instances are frozen: a command produces a new version with
:meth:`PaymentIntent.evolve`, pydantic's ``model_construct``: the domain has checked every value it
sets.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NoReturn

from pydantic import AfterValidator, BaseModel, ConfigDict

from payment_intent.domain.status import (
    CancellationReason,
    CaptureMethod,
    ConfirmationMethod,
    Grant,
    RefundStatus,
    Status,
)

_FROZEN = ConfigDict(frozen=True, extra="forbid")

ChargeStatus = Literal["succeeded", "pending", "failed"]


class FrozenDict(dict[str, str]):
    """``metadata`` that refuses changes, so that an intent is immutable all the way down: a store
    can hand out the very object it holds, and nobody can change a stored intent by accident."""

    __slots__ = ()

    def _refuse(self) -> NoReturn:
        raise TypeError("metadata is read-only: pass new metadata to update() instead")

    def __setitem__(self, key: str, value: str) -> NoReturn:
        self._refuse()

    def __delitem__(self, key: str) -> NoReturn:
        self._refuse()

    def __ior__(self, other: Any) -> NoReturn:  # type: ignore[misc]
        self._refuse()

    def clear(self) -> NoReturn:
        self._refuse()

    def pop(self, *args: Any) -> NoReturn:
        self._refuse()

    def popitem(self) -> NoReturn:
        self._refuse()

    def setdefault(self, *args: Any) -> NoReturn:
        self._refuse()

    def update(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse()

    def __reduce__(self) -> tuple[type[FrozenDict], tuple[dict[str, str]]]:
        return FrozenDict, (dict(self),)

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenDict:
        return self


#: The empty metadata every intent starts from (one shared object: it cannot change).
NO_METADATA = FrozenDict()


class Charge(BaseModel):
    """One payment attempt that reached the processor (Stripe's Charge, PayRex's Payment).

    An authorized, not yet captured charge has ``status="succeeded"`` and ``captured=False`` as in
    Stripe; the part of a hold that is never captured is recorded in ``amount_refunded``, as are
    the refunds of captured money (pending or succeeded), as Stripe counts them.

    A hold on a card carries what was granted of the flexible-acquiring features its intent asked
    for (``None``: not asked for), the captures and increments made against it, and the most an
    overcapture may take.
    """

    model_config = _FROZEN

    id: str
    amount: int
    amount_captured: int = 0
    amount_refunded: int = 0
    captured: bool = False
    status: ChargeStatus
    payment_method: str
    payment_method_type: str
    failure_code: str | None = None
    failure_message: str | None = None
    decline_code: str | None = None
    created: int
    multicapture: Grant | None = None
    overcapture: Grant | None = None
    incremental_authorization: Grant | None = None
    extended_authorization: Grant | None = None
    maximum_amount_capturable: int | None = None
    captures: int = 0
    increments: int = 0
    #: What the merchant notes on the payment itself (PayRex's Payment ``metadata``).
    metadata: Annotated[dict[str, str], AfterValidator(FrozenDict)] = NO_METADATA

    @property
    def refunded(self) -> bool:
        """Everything the charge took has gone back (released or refunded)."""
        return self.amount_refunded >= max(self.amount, self.amount_captured)


class Refund(BaseModel):
    """Money collected by a charge, sent back (Stripe's and PayRex's Refund).

    A refund belongs to the intent whose charge it returns and is stored with it: the rule that
    refunds never exceed what was collected is checked on one aggregate, under its version.
    """

    model_config = _FROZEN

    id: str
    amount: int
    currency: str
    payment_intent: str
    charge: str
    status: RefundStatus
    #: One of the profile's ``refund_reasons``, or ``expired_uncaptured_charge`` (the library's).
    reason: str | None = None
    failure_reason: str | None = None
    description: str | None = None
    remarks: str | None = None
    metadata: Annotated[dict[str, str], AfterValidator(FrozenDict)] = NO_METADATA
    created: int
    updated_at: int

    @property
    def holds_money(self) -> bool:
        """Whether the refund counts against what was collected: sent, or on its way."""
        return self.status in (RefundStatus.PENDING, RefundStatus.SUCCEEDED)


class PaymentError(BaseModel):
    """``last_payment_error``: why the last attempt failed."""

    model_config = _FROZEN

    type: str
    code: str
    message: str
    decline_code: str | None = None
    payment_method: str | None = None


class NextAction(BaseModel):
    """What the customer must do next: follow ``redirect_url``, which returns to ``return_url``."""

    model_config = _FROZEN

    type: Literal["redirect"] = "redirect"
    redirect_url: str
    return_url: str | None = None


#: How a flexible-acquiring feature is asked for: granted where the card allows, or not at all.
FeatureRequest = Literal["if_available", "never"]


class CardOptions(BaseModel):
    """``payment_method_options.card``: capture type override and PayRex's card restrictions."""

    model_config = _FROZEN

    capture_type: CaptureMethod | None = None
    allowed_bins: tuple[str, ...] | None = None
    allowed_funding: tuple[Literal["credit", "debit"], ...] | None = None
    request_multicapture: FeatureRequest | None = None
    request_overcapture: FeatureRequest | None = None
    request_incremental_authorization: FeatureRequest | None = None
    request_extended_authorization: FeatureRequest | None = None


class PaymentMethodOptions(BaseModel):
    """Per-type options of the payment methods an intent accepts."""

    model_config = _FROZEN

    card: CardOptions | None = None


class Address(BaseModel):
    model_config = _FROZEN

    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None


class Shipping(BaseModel):
    """Where the goods go (Stripe's ``shipping``): an address and a name, and how they travel."""

    model_config = _FROZEN

    address: Address
    name: str
    carrier: str | None = None
    phone: str | None = None
    tracking_number: str | None = None


SetupFutureUsage = Literal["off_session", "on_session"]


class PaymentIntent(BaseModel):
    """The aggregate: one payment from checkout to money collected, charged at most once."""

    model_config = _FROZEN

    id: str
    amount: int
    amount_capturable: int = 0
    amount_received: int = 0
    currency: str
    status: Status
    customer: str | None = None
    payment_method: str | None = None
    payment_method_types: tuple[str, ...] = ("card",)
    payment_method_options: PaymentMethodOptions = PaymentMethodOptions()
    description: str | None = None
    statement_descriptor: str | None = None
    statement_descriptor_suffix: str | None = None
    receipt_email: str | None = None
    shipping: Shipping | None = None
    #: The method is to be saved for later payments by the customer (``on_session``) or without
    #: them (``off_session``); recorded and reported, as the simulated processor saves nothing.
    setup_future_usage: SetupFutureUsage | None = None
    client_secret: str
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC
    confirmation_method: ConfirmationMethod = ConfirmationMethod.AUTOMATIC
    return_url: str | None = None
    charges: tuple[Charge, ...] = ()
    #: Every refund of the intent's charges, oldest first.
    refunds: tuple[Refund, ...] = ()
    last_payment_error: PaymentError | None = None
    next_action: NextAction | None = None
    metadata: Annotated[dict[str, str], AfterValidator(FrozenDict)] = NO_METADATA
    capture_before_at: int | None = None
    cancellation_reason: CancellationReason | None = None
    canceled_at: int | None = None
    livemode: bool = False
    created: int
    updated_at: int
    version: int = 1
    #: Internal: the payment method whose authentication the customer completed while
    #: confirmation is manual, so the server's next confirm does not ask again. Not on the wire.
    authenticated_payment_method: str | None = None

    @property
    def latest_charge(self) -> Charge | None:
        """The most recent attempt (PayRex's ``latest_payment``)."""
        return self.charges[-1] if self.charges else None

    def evolve(self, **changes: Any) -> PaymentIntent:
        """A copy with ``changes`` applied; used by the domain only, after it has checked them."""
        return PaymentIntent.model_construct(INTENT_FIELDS, **{**vars(self), **changes})


#: An intent's field names. The domain builds every version with all its fields set, so all
#: versions share this one set as their ``model_fields_set`` (``model_copy`` would give each
#: version a copy of its own).
INTENT_FIELDS: set[str] = set(PaymentIntent.model_fields)


class ClientPaymentIntent(BaseModel):
    """The intent as client-side retrieval with the client secret returns it: public fields only."""

    model_config = _FROZEN

    id: str
    amount: int
    currency: str
    status: Status
    payment_method: str | None
    payment_method_types: tuple[str, ...]
    description: str | None
    client_secret: str
    capture_method: CaptureMethod
    confirmation_method: ConfirmationMethod
    last_payment_error: PaymentError | None
    next_action: NextAction | None
    return_url: str | None
    cancellation_reason: CancellationReason | None
    canceled_at: int | None
    livemode: bool
    created: int

    @classmethod
    def of(cls, intent: PaymentIntent) -> ClientPaymentIntent:
        return cls.model_construct(**{name: getattr(intent, name) for name in PUBLIC_FIELDS})


#: Fields a browser holding the client secret may see (Stripe's publishable-key view): those of
#: :class:`ClientPaymentIntent`, declared there once.
PUBLIC_FIELDS: frozenset[str] = frozenset(ClientPaymentIntent.model_fields)


class Event(BaseModel):
    """A domain event, committed with the state change it reports.

    ``sequence`` is the commit-order position the store gives it; the feed's cursor is the event id.
    """

    model_config = _FROZEN

    id: str
    type: str
    created: int
    intent_id: str
    intent_version: int
    data: PaymentIntent
    previous_attributes: dict[str, Any] = {}
    sequence: int | None = None
    #: The refund a ``refund.*`` or ``charge.refunded`` event is about (in ``data.refunds``).
    refund: str | None = None
