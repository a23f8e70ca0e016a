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


class CardOptionsParams(BaseModel):
    model_config = _CLOSED

    capture_type: Literal["automatic", "manual"] | None = None
    allowed_bins: list[Annotated[str, StringConstraints(pattern=r"^[0-9]{6,8}$")]] | None = None
    allowed_funding: list[Literal["credit", "debit"]] | None = None


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
    capture_method: Literal["automatic", "manual"] = "automatic"
    confirmation_method: Literal["automatic", "manual"] = "automatic"
    confirm: bool = False
    return_url: Url | None = None
    metadata: Metadata | None = None
    statement_descriptor: Text | None = None
    payment_method_options: PaymentMethodOptionsParams | None = None


class UpdateParams(BaseModel):
    model_config = _CLOSED

    amount: Amount | None = None
    currency: Currency | None = None
    payment_method: Id | None = None
    payment_method_types: MethodTypes | None = None
    capture_method: Literal["automatic", "manual"] | None = None
    statement_descriptor: Text | None = None
    payment_method_options: PaymentMethodOptionsParams | None = None
    description: Description | None = None
    metadata: Metadata | None = None


#: The update fields only an intent that has not yet been paid may change.
RESTRICTED_UPDATE_FIELDS = frozenset(
    {
        "amount",
        "currency",
        "payment_method",
        "payment_method_types",
        "capture_method",
        "statement_descriptor",
        "payment_method_options",
    }
)


class ConfirmParams(BaseModel):
    model_config = _CLOSED

    payment_method: Id | None = None
    return_url: Url | None = None


class CaptureParams(BaseModel):
    model_config = _CLOSED

    amount_to_capture: CaptureAmount | None = None


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


class ListParams(BaseModel):
    model_config = _CLOSED

    customer: Id | None = None
    status: StatusName | None = None
    created: Integer | CreatedFilter | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 10
    starting_after: Id | None = None
    ending_before: Id | None = None

    @model_validator(mode="after")
    def _one_cursor(self) -> ListParams:
        if self.starting_after is not None and self.ending_before is not None:
            raise PydanticCustomError(
                "cursor_conflict", "starting_after and ending_before cannot be used together."
            )
        return self


class EventsParams(BaseModel):
    model_config = _CLOSED

    starting_after: Id | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 100


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


#: The names pydantic gives the members of ``created``'s union in an error's location.
_UNION_TAGS = frozenset({"int", "constrained-int", "CreatedFilter"})


def _param_name(loc: tuple[int | str, ...]) -> str:
    # pydantic adds a tag for union members (``created.int``); drop such non-parameter parts.
    parts = [str(p) for p in loc if not (isinstance(p, str) and p in _UNION_TAGS)]
    if not parts:
        return ""
    return parts[0] + "".join(f"[{p}]" for p in parts[1:])


def _to_request_error(exc: ValidationError) -> InvalidRequestError:
    errors = exc.errors(include_url=False)
    # A union (``created``) reports one error per member: the deepest one is the most specific.
    first = max(errors, key=lambda e: len(e["loc"]))
    kind = first["type"]
    param = _param_name(tuple(first["loc"]))
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
