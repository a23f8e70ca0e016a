"""The webhook endpoint resources over HTTP, in each dialect, and the test-data reset.

:class:`~payment_intent.dialects.api.Api` routes these operations here (their routes are in the
registry, :mod:`payment_intent.operations`): CasaPay's ``/v1/webhook_endpoints`` as Stripe's
``WebhookEndpoint``, PayRex's ``/webhooks`` as its webhook service, and for both the attempts
readable under ``/test_helpers`` and localstripe's ``DELETE /_config/data``. Endpoints belong to
the mode of the key that made them, kept in the webhook store beside that mode's intents.
"""

from __future__ import annotations

import functools
import secrets
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from payment_intent.adapters.memory import InMemoryStore
from payment_intent.domain.errors import InvalidRequestError, resource_missing
from payment_intent.domain.model import Event
from payment_intent.domain.params import parse
from payment_intent.ids import new_id
from payment_intent.ports import Store
from payment_intent.service import Page, PaymentIntents
from payment_intent.webhooks.delivery import feed_head
from payment_intent.webhooks.model import Attempt, Endpoint
from payment_intent.webhooks.params import (
    AttemptsParams,
    EndpointCreateParams,
    EndpointListParams,
    EndpointUpdateParams,
    WebhookCreateParams,
    WebhookListParams,
    WebhookUpdateParams,
)
from payment_intent.webhooks.render import render_deleted, render_endpoint, render_endpoints
from payment_intent.webhooks.storage import InMemoryWebhookStore, WebhookStore

if TYPE_CHECKING:
    from payment_intent.dialects.api import Api
    from payment_intent.dialects.base import Route

#: Endpoints one mode may have, as Stripe allows.
MAX_ENDPOINTS = 16

#: The operations :class:`WebhookEndpoints` answers (routed by :mod:`payment_intent.operations`).
WEBHOOK_OPERATIONS = frozenset(
    {
        "webhook_endpoint_create",
        "webhook_endpoint_retrieve",
        "webhook_endpoint_update",
        "webhook_endpoint_list",
        "webhook_endpoint_delete",
        "webhook_create",
        "webhook_retrieve",
        "webhook_update",
        "webhook_list",
        "webhook_delete",
        "webhook_enable",
        "webhook_disable",
        "webhook_attempts",
        "reset",
    }
)

_lock = threading.Lock()
_webhook_stores: WeakKeyDictionary[Store, WebhookStore] = WeakKeyDictionary()


def use_webhook_store(store: Store, hooks: WebhookStore) -> WebhookStore:
    """Keep ``store``'s endpoints, deliveries and attempts in ``hooks`` (the PostgreSQL one needs
    saying so: ``use_webhook_store(store, PostgresWebhookStore(dsn))``); returns ``hooks``."""
    with _lock:
        _webhook_stores[store] = hooks
    return hooks


def webhook_store_for(store: Store) -> WebhookStore:
    """The webhook store beside ``store``: one per store, made on first use for the in-memory
    and SQLite stores (in the same database file); any other needs :func:`use_webhook_store`."""
    from payment_intent.adapters.sqlite import SQLiteStore

    with _lock:
        found = _webhook_stores.get(store)
        if found is not None:
            return found
        hooks: WebhookStore
        if isinstance(store, InMemoryStore):
            hooks = InMemoryWebhookStore()
        elif isinstance(store, SQLiteStore):
            from payment_intent.webhooks.sqlite import SQLiteWebhookStore

            hooks = SQLiteWebhookStore(store.path)
        else:
            raise InvalidRequestError(
                f"No webhook store is configured beside {type(store).__name__}; configure one "
                "with payment_intent.webhooks.use_webhook_store (for PostgreSQL: "
                "PostgresWebhookStore(dsn)).",
                code="webhooks_unavailable",
            )
        _webhook_stores[store] = hooks
        return hooks


class WebhookEndpoints:
    """Answers the webhook operations for an :class:`Api` of ``dialect``."""

    def __init__(self, dialect: str, *, max_endpoints: int = MAX_ENDPOINTS) -> None:
        self.dialect = dialect
        self.max_endpoints = max_endpoints

    def answer(
        self,
        api: Api,
        operation: str,
        service: PaymentIntents,
        endpoint_id: str,
        params: dict[str, Any],
    ) -> dict[str, Any]:
        """The body answering ``operation``; refusals raise typed errors, storing nothing."""
        if operation == "reset":
            from payment_intent.webhooks.reset import reset

            reset(api, service.livemode)
            kind = "resource" if self.dialect == "payrex" else "object"
            return {kind: "test_data", "deleted": True}
        hooks = webhook_store_for(service.store)
        if operation in ("webhook_endpoint_create", "webhook_create"):
            return self._create(hooks, service, operation, params)
        if operation in ("webhook_endpoint_list", "webhook_list"):
            return self._list(hooks, operation, params)
        endpoint = self._found(hooks, endpoint_id)
        if operation in ("webhook_endpoint_retrieve", "webhook_retrieve"):
            return render_endpoint(endpoint)
        if operation in ("webhook_endpoint_delete", "webhook_delete"):
            hooks.delete_endpoint(endpoint.id)
            return render_deleted(self.dialect, endpoint.id)
        if operation == "webhook_attempts":
            limit = parse(AttemptsParams, params).limit
            return self._attempts(hooks.attempts(endpoint.id, limit=limit))
        changes = self._changes(endpoint, operation, params)
        updated = replace(endpoint, **changes, updated=service.clock.now())
        if not hooks.update_endpoint(updated):
            raise self._missing(endpoint.id)
        return render_endpoint(updated)

    def _create(
        self, hooks: WebhookStore, service: PaymentIntents, operation: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        now = service.clock.now()
        if operation == "webhook_endpoint_create":
            casapay = parse(EndpointCreateParams, params)
            endpoint = Endpoint(
                id=new_id("we"),
                dialect=self.dialect,
                livemode=service.livemode,
                url=casapay.url,
                enabled_events=tuple(casapay.enabled_events),
                secret=f"whsec_{secrets.token_hex(16)}",
                created=now,
                updated=now,
                cursor=feed_head(service.store),
                api_version=casapay.api_version,
                description=casapay.description or None,
                metadata=dict(casapay.metadata or {}),
            )
        else:
            payrex = parse(WebhookCreateParams, params)
            endpoint = Endpoint(
                id=new_id("wh"),
                dialect=self.dialect,
                livemode=service.livemode,
                url=payrex.url,
                enabled_events=tuple(payrex.events),
                secret=f"whsk_{secrets.token_hex(16)}",
                created=now,
                updated=now,
                cursor=feed_head(service.store),
                description=payrex.description or None,
            )
        if not hooks.add_endpoint(endpoint, self.max_endpoints):
            raise InvalidRequestError(
                f"This mode already has {self.max_endpoints} webhook endpoints, the most it may "
                "have; delete one first.",
                code="webhook_endpoints_limit",
                param="url",
            )
        return render_endpoint(endpoint, with_secret=True)

    def _list(self, hooks: WebhookStore, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        after: str | None
        before: str | None
        if operation == "webhook_endpoint_list":
            casapay = parse(EndpointListParams, params)
            limit, after, before = casapay.limit, casapay.starting_after, casapay.ending_before
            names = ("starting_after", "ending_before")
        else:
            payrex = parse(WebhookListParams, params)
            limit, after, before = payrex.limit, payrex.after, payrex.before
            names = ("after", "before")
        if after is not None and before is not None:
            raise InvalidRequestError(
                f"{names[0]} and {names[1]} cannot be used together.",
                code="parameter_invalid",
                param=names[1],
            )
        for name, cursor in zip(names, (after, before), strict=True):
            if cursor is not None and hooks.endpoint(cursor) is None:
                raise resource_missing(name, self._resource, cursor)
        found = hooks.endpoints(limit + 1, after=after, before=before)
        if before is not None:
            return render_endpoints(self.dialect, found[-limit:], len(found) > limit)
        return render_endpoints(self.dialect, found[:limit], len(found) > limit)

    def _changes(
        self, endpoint: Endpoint, operation: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if operation == "webhook_endpoint_update":
            casapay = parse(EndpointUpdateParams, params)
            if casapay.url is not None:
                changes["url"] = casapay.url
            if casapay.enabled_events is not None:
                changes["enabled_events"] = tuple(casapay.enabled_events)
            if casapay.description is not None:
                changes["description"] = casapay.description or None
            if casapay.metadata is not None:
                # Stripe's rule: an empty value removes that key, the others are set.
                merged = {**endpoint.metadata, **casapay.metadata}
                changes["metadata"] = {k: v for k, v in merged.items() if v != ""}
            if casapay.disabled is not None:
                changes["status"] = "disabled" if casapay.disabled else "enabled"
        elif operation == "webhook_update":
            payrex = parse(WebhookUpdateParams, params)
            if payrex.url is not None:
                changes["url"] = payrex.url
            if payrex.events is not None:
                changes["enabled_events"] = tuple(payrex.events)
            if payrex.description is not None:
                changes["description"] = payrex.description or None
        elif operation in ("webhook_enable", "webhook_disable"):
            changes["status"] = "enabled" if operation == "webhook_enable" else "disabled"
        return changes

    def _attempts(self, attempts: list[Attempt]) -> dict[str, Any]:
        kind = "resource" if self.dialect == "payrex" else "object"
        data = [
            {
                kind: "webhook_attempt",
                "endpoint": attempt.target,
                "event": attempt.event_id,
                "attempt": attempt.number,
                "started_at": attempt.started_at,
                "duration_ms": round(attempt.duration * 1000, 3),
                "status_code": attempt.status_code,
                "error": attempt.error,
                "outcome": attempt.outcome,
                "next_retry_at": attempt.next_retry_at,
            }
            for attempt in attempts
        ]
        return {kind: "list", "data": data, "has_more": False}

    def annotate_events(
        self, body: dict[str, Any], page: Page[Event], service: PaymentIntents
    ) -> None:
        """Give each event of a ``GET /events`` page its ``pending_webhooks``: the endpoints that
        have not acknowledged it (yet to be sent, retrying, or failed)."""
        hooks = webhook_store_for(service.store)
        endpoints = [e for e in hooks.endpoints() if e.status == "enabled"]
        undelivered = hooks.undelivered([event.id for event in page]) if endpoints or page else {}
        for item, event in zip(body.get("data", []), page, strict=False):
            waiting = sum(
                1 for e in endpoints if e.cursor < (event.sequence or 0) and e.wants(event.type)
            )
            item["pending_webhooks"] = undelivered.get(event.id, 0) + waiting

    # -- parts -----------------------------------------------------------------------------------

    @property
    def _resource(self) -> str:
        return "webhook" if self.dialect == "payrex" else "webhook_endpoint"

    def _missing(self, endpoint_id: str) -> InvalidRequestError:
        return resource_missing("id", self._resource, endpoint_id)

    def _found(self, hooks: WebhookStore, endpoint_id: str) -> Endpoint:
        endpoint = hooks.endpoint(endpoint_id)
        if endpoint is None:
            raise self._missing(endpoint_id)
        return endpoint


#: localstripe's reset, served at the root whatever the dialect's prefix.
RESET_PATH = "/_config/data"


def root_route(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route of a request outside the dialect's prefix: only the test-data reset."""
    if path.rstrip("/") != RESET_PATH or method.upper() != "DELETE":
        return None
    return _reset_route(), {}


@functools.cache
def _reset_route() -> Route:
    from payment_intent.dialects.base import Route

    return Route("DELETE", RESET_PATH, "reset", test_helper=True)
