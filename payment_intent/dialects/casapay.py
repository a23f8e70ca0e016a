"""CasaPay on the wire: Stripe's shapes, as CasaPay's API reference shows them.

Decisions where that reference is silent follow what a Stripe user (and the ``stripe`` SDK)
expects; they are listed in ``docs/http.md``. In short: ``object`` keys, ``created`` timestamps,
lower-case currencies, canonical status names, Stripe's objects complete for the API version the
request names (:mod:`.versions`, :mod:`.stripe_objects`), ``expand[]`` (:mod:`.expansion`), and
the error body ``{"error": {type, code, message, param?, ...}}``.

What a request says about its own answer (its ``Stripe-Version`` header, its ``expand[]``) is read
once, before it runs, into a context of its own: :class:`Api` answers each request in a fresh
:mod:`contextvars` context, so requests on other threads, or later on the same one, never see it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from contextvars import ContextVar, copy_context
from dataclasses import dataclass, field
from typing import Any, ClassVar

from payment_intent.dialects import (
    expansion,
    search_query,
    stripe_lists,
    stripe_objects,
    stripe_refunds,
    versions,
)
from payment_intent.dialects.base import Dialect, Route, routes_for
from payment_intent.dialects.forms import STR, ListOf, coerce
from payment_intent.dialects.stripe_objects import DEFAULT_VIEW, View
from payment_intent.domain.errors import (
    ConcurrencyError,
    IdempotencyError,
    InvalidRequestError,
    PaymentIntentError,
    StorageUnavailableError,
    parameter_invalid,
    resource_missing,
)
from payment_intent.domain.model import ClientPaymentIntent, Event, PaymentIntent, Refund
from payment_intent.domain.outcomes import PaymentMethod
from payment_intent.domain.params import EventListParams, NoParams, SearchParams, parse
from payment_intent.domain.profiles import CASAPAY
from payment_intent.service import Page, PaymentIntents

# These reads go to the store directly: its failures must read as the service's do (503, retry).
from payment_intent.service.boundary import storage_errors as _read_storage
from payment_intent.webhooks.resources import WebhookEndpoints

_WEBHOOKS = WebhookEndpoints("casapay")

#: Stripe Connect's parameters: accepted by Stripe, but there are no connected accounts here.
CONNECT_PARAMETERS = frozenset(
    {"application_fee_amount", "on_behalf_of", "transfer_data", "transfer_group"}
)

#: The operations only CasaPay routes, answered by :meth:`CasaPay.answer`.
STRIPE_READS = frozenset({"search", "list_events", "retrieve_event", "retrieve_payment_method"})

#: The shape at the top of each operation's answer, where ``expand[]`` paths start.
ROOTS: dict[str, str] = {
    "list": "intent_list",
    "search": "intent_list",
    "expire": "intent_list",
    "events": "event_list",
    "list_events": "event_list",
    "retrieve_event": "event",
    "retrieve_payment_method": "payment_method",
    "advance_clock": "clock",
    **dict.fromkeys(stripe_refunds.OPERATIONS, "refund"),
    "list_refunds": "refund_list",
}

_NEWER_GRAPH = {
    **expansion.GRAPH,
    "payment_intent": {
        k: v for k, v in expansion.GRAPH["payment_intent"].items() if k != "charges"
    },
}


@dataclass
class _Request:
    """One request's reading of itself, and the intents rendered for it (by id), which an
    expansion of ``latest_charge`` or ``charge.payment_intent`` renders again."""

    view: View
    livemode: bool
    expand: tuple[str, ...] = ()
    root: str = "payment_intent"
    intents: dict[str, PaymentIntent] = field(default_factory=dict)


_REQUEST: ContextVar[_Request | None] = ContextVar("casapay_request", default=None)


class CasaPay(Dialect):
    """The CasaPay (Stripe-shaped) dialect, served under ``/v1``."""

    name = "casapay"
    prefix = "/v1"
    profile = CASAPAY
    routes: ClassVar[tuple[Route, ...]] = routes_for("casapay")
    renames: ClassVar[Mapping[str, Mapping[str, str]]] = {}
    #: A refund's ``description`` and ``remarks`` are PayRex's; Stripe's refund has metadata only.
    unspoken: ClassVar[Mapping[str, frozenset[str]]] = {
        "refund": frozenset({"description", "remarks"}),
        "update_refund": frozenset({"description", "remarks"}),
    }

    def credentials(self, headers: Mapping[str, str]) -> str | None:
        """Bearer, or Basic with the key as the user name and no password (``curl -u KEY:``),
        Stripe's first documented way; a bare key after ``Basic`` is read too, as Stripe does."""
        scheme, _, token = headers.get("authorization", "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer":
            return token or None
        if scheme.lower() != "basic" or not token:
            return None
        if token.startswith(("sk_", "pk_", "rk_")):
            return token
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return None
        user, _, _ = decoded.partition(":")
        return user or None

    def to_canonical(self, operation: str, params: dict[str, Any], *, form: bool) -> dict[str, Any]:
        # ``expand`` is about the answer, not the operation: kept aside for read_request.
        expand = params.pop("expand", None) if "expand" in params else None
        # What a refund is of is not one of the refund's own parameters: kept aside too.
        targets = (
            {name: params.pop(name) for name in stripe_refunds.TARGETS if name in params}
            if operation == "refund"
            else {}
        )
        for name in CONNECT_PARAMETERS.intersection(params):
            raise parameter_invalid(
                name,
                f"{name} is a Stripe Connect parameter; this stand-in does not model Connect "
                "(connected accounts, application fees, transfers), so it cannot honour it.",
            )
        canonical = super().to_canonical(operation, params, form=form)
        if expand is not None:
            canonical["expand"] = coerce(expand, ListOf(STR)) if form else expand
        return {**canonical, **targets}

    def nested_to_canonical(self, name: str, value: Any) -> Any:
        # Stripe's per-method override is payment_method_options[card][capture_method].
        if name == "payment_method_options" and isinstance(value, dict):
            card = value.get("card")
            if isinstance(card, dict) and "capture_method" in card:
                if "capture_type" in card:
                    raise parameter_invalid(
                        "payment_method_options[card][capture_method]",
                        "Give payment_method_options[card][capture_method] only once "
                        "(capture_type is its PayRex spelling).",
                    )
                card = {
                    ("capture_type" if k == "capture_method" else k): v for k, v in card.items()
                }
                return {**value, "card": card}
        return value

    def wire_param(self, param: str, operation: str) -> str:
        return param.replace("[card][capture_type]", "[card][capture_method]")

    # -- what a request says about its answer ----------------------------------------------------

    def read_request(
        self,
        operation: str,
        headers: Mapping[str, str],
        params: dict[str, Any],
        methods: Callable[[str], PaymentMethod | None],
        livemode: bool,
    ) -> dict[str, Any]:
        """Read ``Stripe-Version`` and ``expand[]`` before the request runs: a version or a path
        this server cannot answer in is a 400 that stores nothing."""
        if headers.get("stripe-account"):
            raise InvalidRequestError(
                "The Stripe-Account header acts on a connected account; this stand-in does not "
                "model Connect, so it serves the platform's own intents only. Leave the header "
                "out.",
                code="parameter_invalid",
            )
        version = versions.resolve(headers.get("stripe-version"))
        paths = expansion.parse(params.pop("expand")) if "expand" in params else ()
        root = ROOTS.get(operation, "payment_intent")
        expansion.check(paths, root, self._graph(version))
        if operation == "create" and version.automatic_async:
            # From 2024-04-10 an intent created without a capture method captures asynchronously.
            params.setdefault("capture_method", "automatic_async")
        elif params.get("capture_method") == "automatic_async" and not version.automatic_async:
            raise parameter_invalid(
                "capture_method",
                "Invalid capture_method: must be one of automatic or manual (automatic_async "
                "exists from API version 2024-04-10 on).",
            )
        _REQUEST.set(_Request(View(version, methods), livemode, paths, root))
        return params

    def answer(
        self,
        operation: str,
        service: PaymentIntents,
        object_id: str,
        params: dict[str, Any],
        idempotency_key: str | None = None,
    ) -> dict[str, Any] | None:
        """Stripe's search, events list, event and payment method, which only CasaPay routes,
        and its refunds (``/v1/refunds``)."""
        if operation in stripe_refunds.OPERATIONS:
            return stripe_refunds.answer(
                operation, service, object_id, params, idempotency_key, self._refund
            )
        if operation not in STRIPE_READS:
            return None
        return self._stripe_read(operation, service, object_id, params)

    @_read_storage
    def _stripe_read(
        self, operation: str, service: PaymentIntents, object_id: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        if operation == "search":
            given = parse(SearchParams, params)
            query = search_query.parse(given.query)
            found = stripe_lists.search(service.store, service.clock.now(), query, given)
            return {
                "object": "search_result",
                "data": [self._intent(intent) for intent in found.data],
                "has_more": found.has_more,
                "next_page": found.next_page,
                "url": f"{self.prefix}/payment_intents/search",
            }
        if operation in ("list_events", "retrieve_event"):
            events: Page[Event]
            if operation == "list_events":
                listed = stripe_lists.list_events(service.store, parse(EventListParams, params))
                events = Page(listed.data, listed.has_more)
            else:
                parse(NoParams, params)
                events = Page([stripe_lists.retrieve_event(service.store, object_id)], False)
            body = self.render_events(events, f"{self.prefix}/events")
            # pending_webhooks: the endpoints that have not acknowledged each event yet.
            _WEBHOOKS.annotate_events(body, events, service)
            return body if operation == "list_events" else body["data"][0]
        if operation == "retrieve_payment_method":
            parse(NoParams, params)
            if service.processor.payment_method(object_id) is None:
                raise resource_missing("payment_method", "payment_method", object_id)
            return self._view().payment_method(object_id, livemode=service.livemode)
        raise ValueError(f"{operation} is not one of Stripe's reads")  # STRIPE_READS says which

    def finish_response(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        request = _REQUEST.get()
        if request is None or not request.expand:
            return body
        graph = self._graph(request.view.version)
        return expansion.apply(body, request.expand, request.root, graph, self._resolver(request))

    def error_headers(self, error: PaymentIntentError) -> tuple[int, tuple[tuple[str, str], ...]]:
        """Stripe's status for a lost race (429 ``lock_timeout``) and the header its SDKs read
        to retry: a request that changed nothing and may succeed when tried again."""
        retry = (("Stripe-Should-Retry", "true"),)
        if isinstance(error, ConcurrencyError) and error.code == "lock_timeout":
            return 429, retry
        if isinstance(error, IdempotencyError) and error.code == "idempotency_key_in_use":
            return 409, retry
        if isinstance(error, StorageUnavailableError):
            return error.http_status, retry
        if error.http_status < 500:
            return error.http_status, (("Stripe-Should-Retry", "false"),)
        return error.http_status, ()

    def _graph(self, version: versions.ApiVersion) -> Mapping[str, Mapping[str, str]]:
        return _NEWER_GRAPH if version.latest_charge else expansion.GRAPH

    def _resolver(self, request: _Request) -> expansion.Resolve:
        def resolve(shape: str, object_id: str, owner: Mapping[str, Any]) -> dict[str, Any]:
            if shape == "payment_method":
                return request.view.payment_method(object_id, livemode=request.livemode)
            if shape == "payment_intent":
                found = request.intents.get(object_id)
                if found is None:
                    raise InvalidRequestError(
                        f"No such payment_intent: '{object_id}'",
                        code="resource_missing",
                        http_status=404,
                    )
                return self._intent(found)
            # A charge: it belongs to the intent that holds it, or that it names.
            holder = request.intents.get(str(owner.get("payment_intent") or owner.get("id")))
            for charge in holder.charges if holder is not None else ():
                if charge.id == object_id:
                    return stripe_objects.charge(charge, holder, request.view)  # type: ignore[arg-type]
            raise InvalidRequestError(
                f"No such charge: '{object_id}'", code="resource_missing", http_status=404
            )

        return resolve

    # -- objects ---------------------------------------------------------------------------------

    def _view(self) -> View:
        request = _REQUEST.get()
        return request.view if request is not None else DEFAULT_VIEW

    def _intent(self, intent: PaymentIntent) -> dict[str, Any]:
        request = _REQUEST.get()
        if request is None:
            return stripe_objects.intent(intent, DEFAULT_VIEW)
        request.intents[intent.id] = intent
        return stripe_objects.intent(intent, request.view)

    def render_intent(self, intent: PaymentIntent) -> dict[str, Any]:
        return self._intent(intent)

    def _refund(self, refund: Refund, holder: PaymentIntent) -> dict[str, Any]:
        """A refund; its intent is kept for ``expand[]=charge`` and ``payment_intent``."""
        request = _REQUEST.get()
        if request is None:
            return stripe_objects.refund(refund, holder, DEFAULT_VIEW)
        request.intents[holder.id] = holder
        return stripe_objects.refund(refund, holder, request.view)

    def render_client_intent(self, intent: ClientPaymentIntent) -> dict[str, Any]:
        return {
            "id": intent.id,
            "object": "payment_intent",
            "amount": intent.amount,
            "currency": intent.currency,
            "status": intent.status.value,
            "payment_method": intent.payment_method,
            "payment_method_types": list(intent.payment_method_types),
            "description": intent.description,
            "client_secret": intent.client_secret,
            "capture_method": intent.capture_method.value,
            "confirmation_method": intent.confirmation_method.value,
            "created": intent.created,
            "livemode": intent.livemode,
            "last_payment_error": stripe_objects.payment_error(
                intent.last_payment_error, None, self._view()
            ),
            "next_action": stripe_objects.next_action(intent.next_action),
            "canceled_at": intent.canceled_at,
            "cancellation_reason": (
                intent.cancellation_reason.value if intent.cancellation_reason else None
            ),
        }

    def render_list(self, page: Page[PaymentIntent], url: str) -> dict[str, Any]:
        return _list([self._intent(intent) for intent in page], page.has_more, url)

    def render_event(self, event: Event) -> dict[str, Any]:
        view = self._view()
        if event.refund is not None:
            data, previous = stripe_refunds.event_object(event, view)
            return stripe_objects.event(event, data, previous, view)
        data = stripe_objects.intent(event.data, view)
        return stripe_objects.event(event, data, self.previous_attributes(event), view)

    def render_event_in(self, event: Event, api_version: str) -> dict[str, Any]:
        """An event in ``api_version`` outside any request (a webhook to an endpoint of that
        version)."""

        def rendered() -> dict[str, Any]:
            view = View(versions.of_endpoint(api_version), DEFAULT_VIEW.methods)
            _REQUEST.set(_Request(view, event.data.livemode))
            return self.render_event(event)

        return copy_context().run(rendered)

    def render_events(self, page: Page[Event], url: str) -> dict[str, Any]:
        return _list([self.render_event(event) for event in page], page.has_more, url)

    def render_clock(self, now: int) -> dict[str, Any]:
        return {"object": "test_helpers.clock", "frozen_time": now}

    def render_error(self, error: PaymentIntentError) -> dict[str, Any]:
        body: dict[str, Any] = stripe_objects.error(error, self._view(), self._intent)
        return body

    def previous_attributes(self, event: Event) -> dict[str, Any]:
        """As the base class computes them, from the version's shape (never expanded)."""
        if not event.previous_attributes:
            return {}
        before = PaymentIntent.model_validate(
            {**event.data.model_dump(mode="json"), **event.previous_attributes}
        )
        view = self._view()
        old = stripe_objects.intent(before, view)
        new = stripe_objects.intent(event.data, view)
        return {key: value for key, value in old.items() if new.get(key) != value}


def _list(data: list[dict[str, Any]], has_more: bool, url: str) -> dict[str, Any]:
    """Stripe's list object."""
    return {"object": "list", "data": data, "has_more": has_more, "url": url}
