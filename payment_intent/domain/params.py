"""Request parameters, validated by pydantic before anything is loaded or stored.

Each operation has a strict, closed model: wrong types, unknown names and broken limits become an
:class:`InvalidRequestError` naming the parameter the way the providers do (``metadata[key]``).
Profile rules (currencies, amount bounds) are checked by the domain, which knows the profile.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from payment_intent.domain.errors import InvalidRequestError

_CLOSED = ConfigDict(extra="forbid", strict=True, frozen=True)

MAX_METADATA_KEYS = 50
MAX_METADATA_KEY_LENGTH = 40
MAX_METADATA_VALUE_LENGTH = 500
MAX_DESCRIPTION_LENGTH = 1000
MAX_ID_LENGTH = 255

#: The largest integer any parameter may carry: every store keeps integers in 64 bits.
MAX_INTEGER = 2**63 - 1


def _text(value: str) -> str:
    """A string every store can keep and every response can carry: valid UTF-8, so no lone
    surrogate (what JavaScript leaves after cutting a string inside an emoji)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError(
            "text_invalid", "The value must be valid Unicode text (it has a lone surrogate)."
        ) from None
    return value


def _no_nul(value: str) -> str:
    """Ids are kept in columns of their own, where PostgreSQL refuses a NUL character."""
    if "\x00" in value:
        raise PydanticCustomError("text_invalid", "An id must not contain NUL characters.")
    return value


Text = Annotated[str, AfterValidator(_text)]
Integer = Annotated[int, Field(ge=-MAX_INTEGER - 1, le=MAX_INTEGER)]
Id = Annotated[
    Text, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH), AfterValidator(_no_nul)
]
Description = Annotated[Text, StringConstraints(max_length=MAX_DESCRIPTION_LENGTH)]
Reason = Literal["duplicate", "fraudulent", "requested_by_customer", "abandoned"]
StatusName = Literal[
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
    "processing",
    "requires_capture",
    "succeeded",
    "canceled",
]

_URL = re.compile(r"https?://[^\s/$.?#][^\s]*", re.IGNORECASE)


def _url(value: str) -> str:
    if len(value) > 2048 or not _URL.fullmatch(value):
        raise PydanticCustomError("url_invalid", "Not a valid URL: an http(s) URL is required.")
    return value


def _metadata(value: dict[str, str]) -> dict[str, str]:
    if len(value) > MAX_METADATA_KEYS:
        raise PydanticCustomError(
            "metadata_too_many_keys", f"Metadata can have at most {MAX_METADATA_KEYS} keys."
        )
    for key, item in value.items():
        if not key or len(key) > MAX_METADATA_KEY_LENGTH or "[" in key or "]" in key:
            raise PydanticCustomError(
                "metadata_key_invalid",
                f"Metadata keys must be 1 to {MAX_METADATA_KEY_LENGTH} characters, without [ or ].",
            )
        if len(item) > MAX_METADATA_VALUE_LENGTH:
            raise PydanticCustomError(
                "metadata_value_too_long",
                f"Metadata values can be at most {MAX_METADATA_VALUE_LENGTH} characters.",
            )
    return value


def _nonempty(value: list[str]) -> list[str]:
    if not value:
        raise PydanticCustomError("empty_list", "At least one payment method type is required.")
    return value


def _positive(value: int) -> int:
    if value <= 0:
        raise PydanticCustomError("amount_too_small", "The amount must be a positive integer.")
    if value > MAX_INTEGER:
        raise PydanticCustomError("amount_too_large", "The amount is too large.")
    return value


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise PydanticCustomError("email_invalid", "Not a valid email address.")
    return value


def _form_boolean(value: Any) -> Any:
    """``off_session`` is a boolean or a word; a form sends the boolean as ``"true"``/``"false"``,
    which the form reader cannot tell from a word, so it is read here."""
    if value in ("true", "false"):
        return value == "true"
    return value


Url = Annotated[Text, AfterValidator(_url)]
Metadata = Annotated[dict[Text, Text], AfterValidator(_metadata)]
MethodTypes = Annotated[
    list[Annotated[Text, StringConstraints(min_length=1)]], AfterValidator(_nonempty)
]
Amount = Annotated[int, AfterValidator(_positive)]
Currency = Annotated[Text, StringConstraints(min_length=3, max_length=3)]


def _capture_amount(value: int) -> int:
    # The profile sets the least a capture may take; past 64 bits it is simply too much or little.
    if value < -MAX_INTEGER - 1:
        raise PydanticCustomError("amount_too_small", "The amount is too small.")
    if value > MAX_INTEGER:
        raise PydanticCustomError("amount_too_large", "The amount is too large.")
    return value


CaptureAmount = Annotated[int, AfterValidator(_capture_amount)]


#: Stripe's bound on free text inside an object (addresses, names, phone numbers).
ShortText = Annotated[Text, StringConstraints(max_length=5000)]
Email = Annotated[Text, StringConstraints(max_length=800), AfterValidator(_email)]
#: ``""`` clears a field on update and confirm, as on Stripe.
Clear = Literal[""]
SetupFutureUsage = Literal["off_session", "on_session"]
OffSession = Annotated[bool | Literal["one_off", "recurring"], BeforeValidator(_form_boolean)]
StatementDescriptorSuffix = Annotated[Text, StringConstraints(max_length=22)]
CaptureMethodName = Literal["automatic", "automatic_async", "manual"]


class AddressParams(BaseModel):
    model_config = _CLOSED

    line1: ShortText | None = None
    line2: ShortText | None = None
    city: ShortText | None = None
    state: ShortText | None = None
    postal_code: ShortText | None = None
    country: ShortText | None = None


class ShippingParams(BaseModel):
    """Stripe's ``shipping``: an address and a name are required, the rest is optional."""

    model_config = _CLOSED

    address: AddressParams
    name: Annotated[Text, StringConstraints(min_length=1, max_length=5000)]
    carrier: ShortText | None = None
    phone: ShortText | None = None
    tracking_number: ShortText | None = None


class BillingDetailsParams(BaseModel):
    model_config = _CLOSED

    address: AddressParams | Clear | None = None
    email: Email | Clear | None = None
    name: ShortText | Clear | None = None
    phone: ShortText | Clear | None = None


class CardDataParams(BaseModel):
    """Card details in ``payment_method_data``: a test token only, never raw card numbers."""

    model_config = _CLOSED

    token: Id


class PaymentMethodDataParams(BaseModel):
    """A payment method given inline instead of by id (``payment_method_data``).

    In test mode it names one of the test methods: ``type=card`` with a test token ``tok_visa``
    stands for ``pm_card_visa`` (Stripe's pairing of test tokens and test methods), any other
    type for that type's test method (``open_banking`` for ``pm_open_banking``).
    """

    model_config = _CLOSED

    type: Annotated[Text, StringConstraints(min_length=1, max_length=100, pattern=r"^[a-z_]+$")]
    card: CardDataParams | None = None
    billing_details: BillingDetailsParams | None = None
    metadata: Metadata | None = None

    @model_validator(mode="after")
    def _card_matches_type(self) -> PaymentMethodDataParams:
        if self.type == "card" and self.card is None:
            raise PydanticCustomError(
                "card_token_missing",
                "payment_method_data[card][token] is required for type card (a test token such "
                "as tok_visa; raw card numbers are not accepted).",
            )
        if self.type != "card" and self.card is not None:
            raise PydanticCustomError(
                "card_not_allowed", "payment_method_data[card] is only for type card."
            )
        if self.card is not None and not self.card.token.startswith("tok_"):
            raise PydanticCustomError(
                "token_invalid", "A card token starts with tok_ (tok_visa, tok_mastercard, ...)."
            )
        return self

    @property
    def payment_method_id(self) -> str:
        """The test payment method this data stands for."""
        if self.card is not None:
            return "pm_card_" + self.card.token.removeprefix("tok_")
        return "pm_" + self.type


def _payment_method_from_data(given: Any) -> Any:
    """``payment_method_data`` names a method, so the command carries it as ``payment_method`` too;
    both at once are refused unless they agree (a stored command carries both)."""
    if not isinstance(given, dict) or not isinstance(given.get("payment_method_data"), dict):
        return given
    try:
        data = PaymentMethodDataParams.model_validate(given["payment_method_data"])
    except ValidationError:
        return given  # the field's own validation then names what is wrong in it
    method = given.get("payment_method")
    if method is not None and method != data.payment_method_id:
        raise PydanticCustomError(
            "payment_method_conflict",
            "Pass either payment_method or payment_method_data, not both.",
            {"param": "payment_method_data"},
        )
    return {**given, "payment_method": data.payment_method_id}


FeatureRequest = Literal["if_available", "never"]


class CardOptionsParams(BaseModel):
    model_config = _CLOSED

    capture_type: Literal["automatic", "manual"] | None = None
    allowed_bins: list[Annotated[str, StringConstraints(pattern=r"^[0-9]{6,8}$")]] | None = None
    allowed_funding: list[Literal["credit", "debit"]] | None = None
    request_multicapture: FeatureRequest | None = None
    request_overcapture: FeatureRequest | None = None
    request_incremental_authorization: FeatureRequest | None = None
    request_extended_authorization: FeatureRequest | None = None


class PaymentMethodOptionsParams(BaseModel):
    model_config = _CLOSED

    card: CardOptionsParams | None = None


class CreateParams(BaseModel):
    model_config = _CLOSED

    amount: Amount
    currency: Currency
    customer: Id | None = None
    payment_method: Id | None = None
    payment_method_types: MethodTypes | None = None
    description: Description | None = None
    capture_method: CaptureMethodName = "automatic"
    confirmation_method: Literal["automatic", "manual"] = "automatic"
    confirm: bool = False
    return_url: Url | None = None
    metadata: Metadata | Clear | None = None
    statement_descriptor: Text | None = None
    statement_descriptor_suffix: StatementDescriptorSuffix | None = None
    payment_method_options: PaymentMethodOptionsParams | None = None
    payment_method_data: PaymentMethodDataParams | None = None
    receipt_email: Email | None = None
    shipping: ShippingParams | None = None
    setup_future_usage: SetupFutureUsage | None = None
    off_session: OffSession | None = None
    error_on_requires_action: bool | None = None

    _method_from_data = model_validator(mode="before")(_payment_method_from_data)

    @model_validator(mode="after")
    def _confirm_only(self) -> CreateParams:
        # Both describe the confirmation, so without one they would silently mean nothing.
        for name in ("off_session", "error_on_requires_action"):
            if getattr(self, name) is not None and not self.confirm:
                raise PydanticCustomError(
                    "confirm_required",
                    f"{name} can only be used with confirm=true.",
                    {"param": name},
                )
        return self


class UpdateParams(BaseModel):
    model_config = _CLOSED

    amount: Amount | None = None
    currency: Currency | None = None
    payment_method: Id | None = None
    payment_method_types: MethodTypes | None = None
    capture_method: CaptureMethodName | None = None
    statement_descriptor: Text | None = None
    statement_descriptor_suffix: StatementDescriptorSuffix | Clear | None = None
    payment_method_options: PaymentMethodOptionsParams | None = None
    description: Description | None = None
    metadata: Metadata | Clear | None = None
    customer: Id | None = None
    receipt_email: Email | Clear | None = None
    shipping: ShippingParams | Clear | None = None
    setup_future_usage: SetupFutureUsage | Clear | None = None


#: The update fields only an intent that has not yet been paid may change.
RESTRICTED_UPDATE_FIELDS = frozenset(
    {
        "amount",
        "currency",
        "payment_method",
        "payment_method_types",
        "capture_method",
        "statement_descriptor",
        "statement_descriptor_suffix",
        "payment_method_options",
        "customer",
        "setup_future_usage",
    }
)


class ConfirmParams(BaseModel):
    model_config = _CLOSED

    payment_method: Id | None = None
    return_url: Url | None = None
    payment_method_data: PaymentMethodDataParams | None = None
    receipt_email: Email | Clear | None = None
    shipping: ShippingParams | Clear | None = None
    setup_future_usage: SetupFutureUsage | Clear | None = None
    off_session: OffSession | None = None
    error_on_requires_action: bool | None = None
    payment_method_options: PaymentMethodOptionsParams | None = None

    _method_from_data = model_validator(mode="before")(_payment_method_from_data)


class CaptureParams(BaseModel):
    model_config = _CLOSED

    amount_to_capture: CaptureAmount | None = None
    metadata: Metadata | Clear | None = None
    #: ``False`` keeps the rest of a multicapture hold for later captures.
    final_capture: bool | None = None


class IncrementParams(BaseModel):
    model_config = _CLOSED

    #: The new total of the hold, above the current amount.
    amount: Amount
    description: Description | None = None
    metadata: Metadata | Clear | None = None


#: The reasons a caller may give a refund, both providers' lists together (each profile takes its
#: own); ``expired_uncaptured_charge`` is the library's alone.
RefundReasonName = Literal[
    "duplicate",
    "fraudulent",
    "requested_by_customer",
    "product_out_of_stock",
    "service_not_provided",
    "product_was_damaged",
    "service_misaligned",
    "wrong_product_received",
    "others",
]


class RefundParams(BaseModel):
    model_config = _CLOSED

    #: The charge to refund, when the caller named one: it must be the one that collected.
    charge: Id | None = None
    #: What to send back; all that is left to refund when omitted.
    amount: Amount | None = None
    #: PayRex asks for the currency; it must be the charge's.
    currency: Currency | None = None
    reason: RefundReasonName | None = None
    description: Description | None = None
    remarks: Description | None = None
    metadata: Metadata | None = None


class RefundUpdateParams(BaseModel):
    model_config = _CLOSED

    metadata: Metadata | Clear | None = None
    description: Description | None = None
    remarks: Description | None = None


class CancelParams(BaseModel):
    model_config = _CLOSED

    cancellation_reason: Reason | None = None


class OutcomeParams(BaseModel):
    model_config = _CLOSED

    succeed: bool = True


class CreatedFilter(BaseModel):
    model_config = _CLOSED

    gt: Integer | None = None
    gte: Integer | None = None
    lt: Integer | None = None
    lte: Integer | None = None


def _one_cursor(page: Any) -> Any:
    """A page runs from one cursor: ``starting_after`` or ``ending_before``, not both."""
    if page.starting_after is not None and page.ending_before is not None:
        raise PydanticCustomError(
            "cursor_conflict", "starting_after and ending_before cannot be used together."
        )
    return page


class ListParams(BaseModel):
    model_config = _CLOSED

    customer: Id | None = None
    status: StatusName | None = None
    created: Integer | CreatedFilter | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 10
    starting_after: Id | None = None
    ending_before: Id | None = None

    _one_cursor = model_validator(mode="after")(_one_cursor)


class RefundEdit(BaseModel):
    """A change to one of an intent's refunds, as the service runs it: which refund, and either
    new details (``changes``) or a move of its status (``move``)."""

    model_config = _CLOSED

    refund: Id
    changes: RefundUpdateParams = RefundUpdateParams()
    move: Literal["succeed", "fail", "cancel"] | None = None


class ChargeUpdateParams(BaseModel):
    model_config = _CLOSED

    metadata: Metadata | Clear | None = None


class ChargeEdit(BaseModel):
    """A change to one of an intent's charges (PayRex's Payment), as the service runs it."""

    model_config = _CLOSED

    charge: Id
    changes: ChargeUpdateParams = ChargeUpdateParams()


class RefundListParams(BaseModel):
    model_config = _CLOSED

    payment_intent: Id | None = None
    charge: Id | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 10
    starting_after: Id | None = None
    ending_before: Id | None = None

    _one_cursor = model_validator(mode="after")(_one_cursor)


class EventsParams(BaseModel):
    model_config = _CLOSED

    starting_after: Id | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 100


#: The longest search query read (Stripe's queries are a few clauses long).
MAX_QUERY_LENGTH = 1000
#: The longest search page token: an opaque cursor of the server's own making.
MAX_PAGE_TOKEN_LENGTH = 512


class SearchParams(BaseModel):
    """Stripe's search: a query in its language, a page size, and the token of the next page."""

    model_config = _CLOSED

    query: Annotated[Text, StringConstraints(min_length=1, max_length=MAX_QUERY_LENGTH)]
    limit: Annotated[int, Field(ge=1, le=100)] = 10
    page: (
        Annotated[Text, StringConstraints(min_length=1, max_length=MAX_PAGE_TOKEN_LENGTH)] | None
    ) = None


EventTypeName = Annotated[
    Text, StringConstraints(min_length=1, max_length=200, pattern=r"^[a-z_.*]+$")
]


class EventListParams(BaseModel):
    """Stripe's events list: newest first, by type (``*`` as a wildcard) and creation time."""

    model_config = _CLOSED

    type: EventTypeName | None = None
    types: Annotated[list[EventTypeName], Field(min_length=1, max_length=20)] | None = None
    created: Integer | CreatedFilter | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 10
    starting_after: Id | None = None
    ending_before: Id | None = None

    @model_validator(mode="after")
    def _one_of_each(self) -> EventListParams:
        if self.type is not None and self.types is not None:
            raise PydanticCustomError(
                "type_conflict", "type and types cannot be used together.", {"param": "types"}
            )
        _one_cursor(self)
        return self


class RetrieveParams(BaseModel):
    model_config = _CLOSED

    client_secret: Text | None = None


class NoParams(BaseModel):
    """For an operation that takes no parameters (the expiry sweep)."""

    model_config = _CLOSED


#: The furthest one call may move a manual clock: ten years.
MAX_ADVANCE = 10 * 365 * 24 * 3600


class AdvanceClockParams(BaseModel):
    model_config = _CLOSED

    seconds: Annotated[int, Field(ge=0, le=MAX_ADVANCE)]


def intent_id(value: object, param: str = "intent") -> str:
    """An intent id as a command names it: refused, naming ``param``, unless it is an Id."""
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise InvalidRequestError(
            "The PaymentIntent id must be a string of 1 to 255 characters.",
            code="parameter_invalid",
            param=param,
        )
    try:
        _no_nul(_text(value))
    except PydanticCustomError as error:
        raise InvalidRequestError(
            f"Invalid {param}: {error.message()}", code="parameter_invalid", param=param
        ) from None
    return value


M = TypeVar("M", bound=BaseModel)

_PASSTHROUGH_CODES = {"amount_too_small", "amount_too_large"}


def parse(model: type[M], given: dict[str, Any]) -> M:
    """Validate ``given`` (only the parameters the caller passed) into ``model``, or raise."""
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        raise _to_request_error(exc) from None


#: The names pydantic gives the simple members of a union in an error's location.
_UNION_TAGS = frozenset({"int", "constrained-int", "bool", "str", "constrained-str"})


def _is_union_tag(part: int | str) -> bool:
    """pydantic names the member of a union in an error's location (``created.int``,
    ``shipping.ShippingParams``, ``metadata.literal['']``): not a parameter name."""
    if not isinstance(part, str):
        return False
    if part in _UNION_TAGS or any(mark in part for mark in "[('"):
        return True
    model = globals().get(part)
    return isinstance(model, type) and issubclass(model, BaseModel)


def _param_name(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if not _is_union_tag(p)]
    if not parts:
        return ""
    return parts[0] + "".join(f"[{p}]" for p in parts[1:])


def _to_request_error(exc: ValidationError) -> InvalidRequestError:
    errors = exc.errors(include_url=False)
    # A union (``created``) reports one error per member: the deepest one is the most specific.
    first = max(errors, key=lambda e: len(e["loc"]))
    kind = first["type"]
    param = first.get("ctx", {}).get("param") or _param_name(tuple(first["loc"]))
    if kind == "cursor_conflict":
        param = "ending_before"
    if kind == "missing":
        return InvalidRequestError(
            f"Missing required param: {param}.", code="parameter_missing", param=param
        )
    if kind == "extra_forbidden":
        return InvalidRequestError(
            f"Received unknown parameter: {param}", code="parameter_unknown", param=param
        )
    message = f"Invalid {param}: {first['msg'].rstrip('.')}."
    if kind in _PASSTHROUGH_CODES:
        return InvalidRequestError(message, code=kind, param=param)
    code = "parameter_invalid_integer" if kind.startswith("int_") else "parameter_invalid"
    return InvalidRequestError(message, code=code, param=param)
