"""The parameters of the webhook endpoint operations, per dialect, validated before anything is
stored (as :mod:`payment_intent.domain.params` does for intents).

CasaPay takes Stripe's ``WebhookEndpoint`` parameters (``url``, ``enabled_events``, ``api_version``,
``description``, ``metadata``, ``disabled``); PayRex its webhook's (``url``, ``events``,
``description``). Each model names its parameters as the dialect's callers spell them, so an
error names the parameter the caller sent. This module imports nothing that imports the registry
of operations, which imports it.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic import StringConstraints as Constraints
from pydantic_core import PydanticCustomError

from payment_intent.domain.params import Description, Id, Metadata, Text
from payment_intent.domain.status import EventType

_CLOSED = ConfigDict(extra="forbid", strict=True, frozen=True)

#: The longest endpoint URL accepted.
MAX_URL_LENGTH = 2048
#: The most event types one endpoint may name.
MAX_ENABLED_EVENTS = 64
#: CasaPay's "every event" (Stripe's ``enabled_events: ["*"]``).
ALL_EVENTS = "*"

_API_VERSION = re.compile(r"(\d{4})-(\d{2})-(\d{2})(\.[a-z]+)?")


def casapay_event_types() -> tuple[str, ...]:
    """The event types a CasaPay endpoint may name: the canonical ones, and ``*``."""
    return (ALL_EVENTS, *(event.value for event in EventType))


def payrex_event_types() -> tuple[str, ...]:
    """The event types a PayRex webhook may name: the canonical ones in PayRex's words."""
    # Imported when first validating: the dialects import the registry, which imports this module.
    from payment_intent.dialects.payrex import EVENT_TYPES

    return tuple(EVENT_TYPES.get(event.value, event.value) for event in EventType)


def _endpoint_url(value: str) -> str:
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or port == -1
        or any(c.isspace() or ord(c) < 32 for c in value)
    ):
        raise PydanticCustomError(
            "url_invalid", "Not a valid URL: an http:// or https:// URL with a host is required."
        )
    return value


def _listed(value: Any) -> Any:
    # Stripe's SDK sends a list; a single type given as a string (curl -d enabled_events=*) is
    # read as a list of one.
    return [value] if isinstance(value, str) else value


def _known_events(value: list[str], known: tuple[str, ...]) -> list[str]:
    if not value:
        raise PydanticCustomError("empty_list", "Name at least one event type.")
    for name in value:
        if name not in known:
            raise PydanticCustomError(
                "event_type_unknown",
                "'{name}' is not an event type this server sends; use one of {known}",
                {"name": name[:100], "known": ", ".join(known)},
            )
    return list(dict.fromkeys(value))  # in the order given, each once


def _casapay_events(value: list[str]) -> list[str]:
    return _known_events(value, casapay_event_types())


def _payrex_events(value: list[str]) -> list[str]:
    return _known_events(value, payrex_event_types())


def _api_version(value: str) -> str:
    found = _API_VERSION.fullmatch(value)
    valid = found is not None
    if found is not None:
        try:
            valid = date(int(found[1]), int(found[2]), int(found[3])) >= date(2011, 1, 1)
        except ValueError:
            valid = False
    if not valid:
        raise PydanticCustomError(
            "api_version_invalid",
            "An API version is a release date such as 2022-08-01 (or 2024-09-30.acacia).",
        )
    return value


Url = Annotated[Text, Constraints(max_length=MAX_URL_LENGTH), AfterValidator(_endpoint_url)]
_Names = Annotated[
    list[Annotated[Text, Constraints(max_length=100)]], Field(max_length=MAX_ENABLED_EVENTS)
]
CasaPayEvents = Annotated[_Names, BeforeValidator(_listed), AfterValidator(_casapay_events)]
PayRexEvents = Annotated[_Names, BeforeValidator(_listed), AfterValidator(_payrex_events)]
ApiVersion = Annotated[Text, Constraints(max_length=40), AfterValidator(_api_version)]
Limit = Annotated[int, Field(ge=1, le=100)]


class EndpointCreateParams(BaseModel):
    """CasaPay: ``POST /v1/webhook_endpoints``."""

    model_config = _CLOSED

    url: Url
    enabled_events: CasaPayEvents
    api_version: ApiVersion | None = None
    description: Description | None = None
    metadata: Metadata | None = None


class EndpointUpdateParams(BaseModel):
    """CasaPay: ``POST /v1/webhook_endpoints/{id}``; an empty ``description`` clears it, an empty
    metadata value removes that key."""

    model_config = _CLOSED

    url: Url | None = None
    enabled_events: CasaPayEvents | None = None
    description: Description | None = None
    metadata: Metadata | None = None
    disabled: bool | None = None


class EndpointListParams(BaseModel):
    """CasaPay: ``GET /v1/webhook_endpoints``, newest first."""

    model_config = _CLOSED

    limit: Limit = 10
    starting_after: Id | None = None
    ending_before: Id | None = None


class WebhookCreateParams(BaseModel):
    """PayRex: ``POST /webhooks``."""

    model_config = _CLOSED

    url: Url
    events: PayRexEvents
    description: Description | None = None


class WebhookUpdateParams(BaseModel):
    """PayRex: ``PUT /webhooks/{id}``."""

    model_config = _CLOSED

    url: Url | None = None
    events: PayRexEvents | None = None
    description: Description | None = None


class WebhookListParams(BaseModel):
    """PayRex: ``GET /webhooks``, newest first; ``after`` / ``before`` are webhook ids."""

    model_config = _CLOSED

    limit: Limit = 10
    after: Id | None = None
    before: Id | None = None


class AttemptsParams(BaseModel):
    """The delivery attempts of one endpoint, newest first."""

    model_config = _CLOSED

    limit: Annotated[int, Field(ge=1, le=1000)] = 100
