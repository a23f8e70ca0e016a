"""One HTTP request in, one response out: authentication, routing, and the call to the service.

:class:`Api` is framework-free. It takes the parts of a request (method, path, query string,
headers, body) and returns a :class:`WireResponse`; :mod:`payment_intent.server` wraps it as a WSGI
application, and any web framework can call :meth:`Api.handle` from a catch-all view.

Every refusal is the dialect's error body with the error's status; nothing the caller sends can
produce a traceback, and a refused request stores nothing (the service validates before it loads).
"""

from __future__ import annotations

import contextvars
import json
import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from payment_intent.adapters.clocks import ManualClock
from payment_intent.adapters.simulated import SimulatedProcessor
from payment_intent.dialects import authentication_page
from payment_intent.dialects.base import Dialect
from payment_intent.dialects.forms import decode_form, decode_json
from payment_intent.dialects.keys import ApiKeys
from payment_intent.domain.errors import (
    AuthenticationError,
    CardError,
    InvalidRequestError,
    PaymentIntentError,
)
from payment_intent.domain.params import AdvanceClockParams, parse
from payment_intent.operations import KEYED, OPERATIONS
from payment_intent.ports import Clock, Processor, Store
from payment_intent.service import Page, PaymentIntents
from payment_intent.webhooks.resources import WEBHOOK_OPERATIONS, WebhookEndpoints, root_route

_LOG = logging.getLogger(__name__)

#: The largest request body read, in bytes; the SDKs send a few kilobytes at most.
MAX_BODY = 256 * 1024
#: Bodies are plain trees of dicts and lists, never circular: skip json's cycle bookkeeping.
_JSON = json.JSONEncoder(ensure_ascii=False, check_circular=False)


@dataclass(frozen=True, slots=True)
class WireResponse:
    """A response: status, JSON body and headers (``raw`` instead of JSON for the test-mode
    authentication page, which a browser reads)."""

    status: int
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = field(default=())
    raw: bytes | None = None

    def content(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return _JSON.encode(self.body).encode("utf-8")


def get_dialect(dialect: str | Dialect) -> Dialect:
    """A dialect by name (``"casapay"`` or ``"payrex"``); an instance passes through."""
    from payment_intent.dialects.casapay import CasaPay
    from payment_intent.dialects.payrex import PayRex

    if isinstance(dialect, Dialect):
        return dialect
    known: dict[str, type[Dialect]] = {"casapay": CasaPay, "payrex": PayRex}
    if dialect not in known:
        raise ValueError(f"Unknown dialect {dialect!r}; expected casapay or payrex.")
    return known[dialect]()


class Api:
    """A provider's HTTP API over the service: one dialect, one service per mode.

    ``test`` serves test-mode keys and ``live`` live-mode keys; they must not share a store, so a
    test key can never read or change a live intent. ``clock`` is the manual clock the
    ``/test_helpers/clock/advance`` route moves, if the services run on one.
    """

    def __init__(
        self,
        dialect: str | Dialect,
        keys: ApiKeys | Iterable[str] | None,
        *,
        test: PaymentIntents | None = None,
        live: PaymentIntents | None = None,
    ) -> None:
        self.dialect = get_dialect(dialect)
        # No keys: nothing authenticates over HTTP, and only :meth:`call` is of use (the CLI).
        self.keys = keys if isinstance(keys, ApiKeys) or keys is None else ApiKeys(keys)
        self.services: dict[bool, PaymentIntents] = {}
        if test is not None:
            self.services[False] = test
        if live is not None:
            self.services[True] = live
        if test is not None and live is not None and test.store is live.store:
            raise ValueError("Test mode and live mode must not share a store.")
        for mode in self.keys.modes if self.keys is not None else ():
            if mode not in self.services:
                name = "live" if mode else "test"
                raise ValueError(f"A {name}-mode key is configured but there is no {name} service.")
        for livemode, service in self.services.items():
            if service.livemode is not livemode or service.profile != self.dialect.profile:
                raise ValueError(
                    "Each service must run in its own mode and on the dialect's profile "
                    f"({self.dialect.profile.name})."
                )
        #: The webhook endpoint resources and the test-data reset (payment_intent.webhooks).
        self.webhooks = WebhookEndpoints(self.dialect.name)

    @classmethod
    def over(
        cls,
        dialect: str | Dialect,
        keys: ApiKeys | Iterable[str] | None,
        store: Store,
        *,
        live_store: Store | None = None,
        clock: Clock | None = None,
        processor: Processor | None = None,
        origin: str | None = None,
    ) -> Api:
        """The usual set-up: services on the dialect's profile over ``store`` (and a live store).

        ``origin`` (``http://127.0.0.1:4242``) is where the API is served: the simulated
        processor's authentication redirects then lead to this server's own test-mode page.
        """
        chosen = get_dialect(dialect)
        if processor is None:
            processor = (
                SimulatedProcessor(
                    f"{origin.rstrip('/')}{chosen.prefix}{authentication_page.ROUTE}"
                )
                if origin is not None
                else SimulatedProcessor()
            )
        test = PaymentIntents(store, clock, processor, chosen.profile, livemode=False)
        live = None
        if live_store is not None:
            live = PaymentIntents(live_store, test.clock, processor, chosen.profile, livemode=True)
        return cls(chosen, keys, test=test, live=live)

    # -- one request -----------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: str = "",
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> WireResponse:
        """Answer one request; never raises."""
        # A context of its own, so what the dialect reads from this request stays with it.
        return contextvars.copy_context().run(self._handle, method, path, query, headers, body)

    def _handle(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str] | None,
        body: bytes,
    ) -> WireResponse:
        lowered = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
        if authentication_page.ROUTE in path:
            page = self._authentication_page(method.upper(), path, body)
            if page is not None:
                return page
        try:
            if self.keys is None:
                raise AuthenticationError(
                    "This API has no keys configured; no request can authenticate.",
                    code="api_key_invalid",
                )
            key = self.keys.authenticate(self.dialect.credentials(lowered))
            matched = self.dialect.match(method.upper(), path) or root_route(method, path)
            if matched is None or (matched[0].test_helper and key.livemode):
                raise _unrecognized(method, path)
            route, ids = matched
            operation = route.operation
            params = self._params(operation, method.upper(), query, lowered, body)
            if key.publishable and not (operation == "retrieve" and "client_secret" in params):
                raise AuthenticationError(
                    "This API call cannot be made with a publishable API key; use a secret key "
                    "(publishable keys may only retrieve an intent with its client_secret).",
                    code="secret_key_required",
                )
            idempotency_key = lowered.get("idempotency-key") if operation in KEYED else None
            return self._answer(
                operation, key.livemode, ids.get("id", ""), params, idempotency_key, lowered
            )
        except PaymentIntentError as error:
            return self._error(error)
        except Exception:  # a bug, never the caller's fault: log it, answer in the dialect's shape
            _LOG.exception("Unexpected error handling %s %s", method, path)
            return self._error(
                PaymentIntentError(
                    "An unexpected error occurred in the payment_intent server.", code="api_error"
                )
            )

    def _authentication_page(self, method: str, path: str, body: bytes) -> WireResponse | None:
        service = self.services.get(False)
        if service is None or not path.startswith(self.dialect.prefix):
            return None
        try:
            page = authentication_page.answer(
                service, method, path[len(self.dialect.prefix) :], body
            )
        except Exception:  # a bug: answer as any other, in the dialect's shape
            _LOG.exception("Unexpected error on the authentication page %s", path)
            return self._error(
                PaymentIntentError("An unexpected error occurred.", code="api_error")
            )
        if page is None:
            return None
        status, headers, content = page
        return WireResponse(status, {}, headers, raw=content)

    def call(
        self,
        operation: str,
        intent_id: str = "",
        params: dict[str, Any] | None = None,
        *,
        form: bool = True,
        livemode: bool = False,
        idempotency_key: str | None = None,
    ) -> WireResponse:
        """Run one operation with parameters in wire terms, as an already-authenticated caller
        (the command line does this: whoever holds the database holds the keys).

        ``params`` is what a request body would decode to; ``form`` says its values are strings
        to be read as the parameters' types. Errors are the dialect's error body; only an
        ``operation`` that does not exist raises (``ValueError``).
        """
        if operation not in OPERATIONS:
            raise ValueError(f"Unknown operation {operation!r}.")
        if idempotency_key is not None and operation not in KEYED:
            raise ValueError(f"{operation} takes no idempotency key.")
        return contextvars.copy_context().run(
            self._call, operation, intent_id, params or {}, form, livemode, idempotency_key
        )

    def _call(
        self,
        operation: str,
        intent_id: str,
        params: dict[str, Any],
        form: bool,
        livemode: bool,
        idempotency_key: str | None,
    ) -> WireResponse:
        try:
            canonical = self.dialect.to_canonical(operation, params, form=form)
            return self._answer(operation, livemode, intent_id, canonical, idempotency_key, {})
        except PaymentIntentError as error:
            return self._error(error)

    def _answer(
        self,
        operation: str,
        livemode: bool,
        intent_id: str,
        canonical: dict[str, Any],
        idempotency_key: str | None,
        headers: Mapping[str, str],
    ) -> WireResponse:
        """Call the service of ``livemode``; its errors come back in wire terms."""
        service = self.services.get(livemode)
        if service is None:
            raise InvalidRequestError(
                f"No {'live' if livemode else 'test'}-mode service is configured.",
                code="resource_missing",
                http_status=404,
            )
        canonical = self.dialect.read_request(
            operation, headers, canonical, service.processor.payment_method, livemode
        )
        try:
            body = self._dispatch(operation, service, intent_id, canonical, idempotency_key)
        except PaymentIntentError as error:
            raise self.dialect.wire_error(error, operation) from None
        return WireResponse(200, self.dialect.finish_response(operation, body), self._headers())

    def _params(
        self, operation: str, method: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, Any]:
        if len(query) > MAX_BODY or len(body) > MAX_BODY:
            raise InvalidRequestError(
                f"The request is too large: at most {MAX_BODY} bytes.", code="parameter_invalid"
            )
        canonical = (
            self.dialect.to_canonical(operation, decode_form(query), form=True) if query else {}
        )
        if method == "GET" or not body or body.isspace():
            return canonical
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        is_json = content_type == "application/json" or (
            content_type != "application/x-www-form-urlencoded" and body.lstrip()[:1] == b"{"
        )
        decoded = decode_json(body) if is_json else decode_form(body)
        return {**canonical, **self.dialect.to_canonical(operation, decoded, form=not is_json)}

    def _dispatch(
        self,
        operation: str,
        service: PaymentIntents,
        intent_id: str,
        params: dict[str, Any],
        idempotency_key: str | None,
    ) -> dict[str, Any]:
        dialect = self.dialect
        url = f"{dialect.prefix}/payment_intents"
        answered = dialect.answer(operation, service, intent_id, params, idempotency_key)
        if answered is not None:
            return answered
        if operation == "create":
            return dialect.render_intent(service.create(**params, idempotency_key=idempotency_key))
        if operation == "retrieve":
            if "client_secret" in params:
                view = service.retrieve(intent_id, client_secret=params["client_secret"])
                return dialect.render_client_intent(view)
            return dialect.render_intent(service.retrieve(intent_id))
        if operation == "list":
            if "status" in params:
                params["status"] = dialect.status_filter(params["status"])
            return dialect.render_list(service.list(**params), url)
        if operation == "events":
            page = service.events(**params)
            events = dialect.render_events(page, f"{dialect.prefix}/events")
            self.webhooks.annotate_events(events, page, service)
            return events
        if operation in WEBHOOK_OPERATIONS:
            return self.webhooks.answer(self, operation, service, intent_id, params)
        if operation == "expire":
            expired = service.expire_authorizations()
            return dialect.render_list(Page(expired, has_more=False), url)
        if operation == "advance_clock":
            return dialect.render_clock(self._advance_clock(params))
        if operation == "attach":
            # What the customer's browser does: attach the method and confirm. A decline is the
            # browser's outcome, recorded on the intent, not an error of the API caller.
            try:
                intent = service.confirm(intent_id, **params, idempotency_key=idempotency_key)
            except CardError as declined:
                if declined.payment_intent is None:
                    raise
                intent = declined.payment_intent
            return dialect.render_intent(intent)
        # update, confirm, capture, cancel, complete_action, settle: the service's method names.
        command = getattr(service, operation)
        return dialect.render_intent(command(intent_id, **params, idempotency_key=idempotency_key))

    def _advance_clock(self, params: dict[str, Any]) -> int:
        clocks = {id(s.clock): s.clock for s in self.services.values()}
        clock = next(iter(clocks.values()))
        if len(clocks) != 1 or not isinstance(clock, ManualClock):
            raise InvalidRequestError(
                "This server's clock is not manual; start it with a manual clock "
                "(payment-intent serve --clock manual) to move time by hand.",
                code="clock_not_manual",
            )
        now = clock.advance(parse(AdvanceClockParams, params).seconds)
        for service in self.services.values():
            service.expire_authorizations()
        return now

    # -- responses -------------------------------------------------------------------------------

    def _headers(self) -> tuple[tuple[str, str], ...]:
        return (
            ("Content-Type", "application/json; charset=utf-8"),
            ("Request-Id", f"req_{secrets.token_hex(12)}"),
        )

    def _error(self, error: PaymentIntentError) -> WireResponse:
        status, extra = self.dialect.error_headers(error)
        headers = (*self._headers(), *extra)
        if isinstance(error, AuthenticationError) and self.dialect.name == "payrex":
            headers = (*headers, ("WWW-Authenticate", 'Basic realm="payment_intent"'))
        return WireResponse(status, self.dialect.render_error(error), headers)


def _unrecognized(method: str, path: str) -> InvalidRequestError:
    shown = path if len(path) <= 200 else path[:200] + "…"
    # A path is the caller's text: whatever it holds, the message must stay sendable as UTF-8.
    shown = shown.encode("utf-8", "backslashreplace").decode("utf-8")
    return InvalidRequestError(
        f"Unrecognized request URL ({method.upper()[:10]}: {shown}).",
        code="resource_missing",
        http_status=404,
    )
