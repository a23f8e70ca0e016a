"""Endpoints and webhook events on the wire, in each dialect.

CasaPay renders Stripe's ``webhook_endpoint`` object and event, PayRex its ``webhook`` resource and
event. A webhook's event is the dialect's event (what ``GET /events`` shows) with what the feed
does not know: ``pending_webhooks``, and for CasaPay ``api_version`` and ``request``. A CasaPay
event is rendered in its endpoint's API version: from 2022-11-15 on a PaymentIntent no longer
carries ``charges`` (``latest_charge`` names the charge), and a refund says where its money goes.
"""

from __future__ import annotations

import json
from typing import Any

from payment_intent.domain.model import Event
from payment_intent.webhooks.model import Endpoint

#: The API version of a CasaPay endpoint that names none: the last one whose PaymentIntent still
#: carries ``charges``, as the CasaPay dialect renders it.
DEFAULT_API_VERSION = "2022-08-01"

_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def render_endpoint(endpoint: Endpoint, *, with_secret: bool = False) -> dict[str, Any]:
    """The endpoint object; CasaPay shows ``secret`` only in the answer to its creation, as
    Stripe does, PayRex shows ``secret_key`` always, as its webhook resource does."""
    if endpoint.dialect == "payrex":
        return {
            "id": endpoint.id,
            "resource": "webhook",
            "secret_key": endpoint.secret,
            "status": endpoint.status,
            "description": endpoint.description or "",
            "livemode": endpoint.livemode,
            "url": endpoint.url,
            "events": list(endpoint.enabled_events),
            "created_at": endpoint.created,
            "updated_at": endpoint.updated,
        }
    body: dict[str, Any] = {
        "id": endpoint.id,
        "object": "webhook_endpoint",
        "api_version": endpoint.api_version,
        "application": None,
        "created": endpoint.created,
        "description": endpoint.description,
        "enabled_events": list(endpoint.enabled_events),
        "livemode": endpoint.livemode,
        "metadata": dict(endpoint.metadata),
        "status": endpoint.status,
        "url": endpoint.url,
    }
    if with_secret:
        body["secret"] = endpoint.secret
    return body


def render_endpoints(dialect: str, endpoints: list[Endpoint], has_more: bool) -> dict[str, Any]:
    data = [render_endpoint(endpoint) for endpoint in endpoints]
    if dialect == "payrex":
        return {"resource": "list", "data": data, "has_more": has_more}
    return {"object": "list", "data": data, "has_more": has_more, "url": "/v1/webhook_endpoints"}


def render_deleted(dialect: str, endpoint_id: str) -> dict[str, Any]:
    kind = ("resource", "webhook") if dialect == "payrex" else ("object", "webhook_endpoint")
    return {"id": endpoint_id, kind[0]: kind[1], "deleted": True}


def render_event(
    event: Event, dialect: str, api_version: str | None, pending_webhooks: int
) -> dict[str, Any]:
    """An event as a webhook carries it to an endpoint of ``dialect`` and ``api_version``."""
    # Imported here: the dialects' Api imports this package to route the endpoint resources.
    from payment_intent.dialects import casapay
    from payment_intent.dialects.api import get_dialect

    if dialect == "payrex":
        rendered = get_dialect(dialect).render_event(event)
        return {
            "id": rendered["id"],
            "resource": "event",
            "type": rendered["type"],
            "data": rendered["data"],
            "pending_webhooks": pending_webhooks,
            "previous_attributes": rendered["previous_attributes"],
            "livemode": rendered["livemode"],
            "created_at": rendered["created_at"],
            "updated_at": rendered["updated_at"],
        }
    version = api_version or DEFAULT_API_VERSION
    # In the endpoint's version: a PaymentIntent's charges and a refund's destination are each
    # there or not by version.
    data = casapay.CasaPay().render_event_in(event, version)["data"]
    # Stripe's order of an event's fields.
    return {
        "id": event.id,
        "object": "event",
        "api_version": version,
        "created": event.created,
        "data": data,
        "livemode": event.data.livemode,
        "pending_webhooks": pending_webhooks,
        "request": {"id": None, "idempotency_key": None},
        "type": event.type,
    }


def payload(event: Event, dialect: str, api_version: str | None, pending_webhooks: int) -> bytes:
    """The exact bytes a delivery sends (and signs), on every attempt."""
    body = render_event(event, dialect, api_version, pending_webhooks)
    return _JSON.encode(body).encode("utf-8")
