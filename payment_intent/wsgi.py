"""A ready-made WSGI application for process-based servers: ``payment_intent.wsgi:application``.

Configured from the environment, so that ``gunicorn -w 4 payment_intent.wsgi:application`` runs
the stand-in provider (or an embedded API) on many cores, and several hosts over one PostgreSQL
database:

==============================  ==================================================================
``PAYMENT_INTENT_STORE``        the store's URL (default ``sqlite:///payment_intents.sqlite3``);
                                every worker process opens it, so not ``memory://``
``PAYMENT_INTENT_LIVE_STORE``   the live mode's store, if live keys are configured
``PAYMENT_INTENT_API_KEYS``     the keys accepted, comma-separated (default: the test key that
                                ``payment-intent serve`` prints)
``PAYMENT_INTENT_DIALECT``      ``casapay`` (default) or ``payrex``
``PAYMENT_INTENT_ORIGIN``       the public URL clients use, for the test-mode authentication page
``PAYMENT_INTENT_WEBHOOKS``     ``on`` (default) runs a delivery worker in each process (they share
                                the deliveries through the store's leases); ``off`` runs none
==============================  ==================================================================

A configuration the application cannot run with raises when the server loads ``application``, so
the server refuses to start instead of answering errors.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from payment_intent.dialects.api import Api
from payment_intent.dialects.keys import ApiKeys
from payment_intent.server import StartResponse, WSGIApp, make_app
from payment_intent.stores import store_from_url
from payment_intent.webhooks.delivery import DeliveryWorker
from payment_intent.webhooks.serving import DEFAULT_TEST_KEY, hooks_beside, sources_of

DEFAULT_STORE = "sqlite:///payment_intents.sqlite3"


class Application:
    """The WSGI callable, with a delivery worker in whichever process serves it (a process
    forked after it was made starts its own: the worker's thread does not survive a fork)."""

    def __init__(self, api: Api, *, deliver: bool = True) -> None:
        self.api = api
        self.app: WSGIApp = make_app(api)
        self.deliver = deliver
        self.worker: DeliveryWorker | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self.ensure_worker()

    def ensure_worker(self) -> None:
        if not self.deliver or self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self.worker = DeliveryWorker(sources_of(self.api)).start()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        self.ensure_worker()
        return self.app(environ, start_response)


def create_app(environ: Mapping[str, str] | None = None) -> Application:
    """The application that ``environ`` (default: the process environment) configures."""
    env = os.environ if environ is None else environ
    url = env.get("PAYMENT_INTENT_STORE", "").strip() or DEFAULT_STORE
    if url.startswith("memory:"):
        raise ValueError(
            "PAYMENT_INTENT_STORE=memory:// would give every worker process a store of its own; "
            "use sqlite:///file.db or postgresql://..."
        )
    keys = ApiKeys(
        env.get("PAYMENT_INTENT_API_KEYS", "").split(",")
        if env.get("PAYMENT_INTENT_API_KEYS", "").strip()
        else [DEFAULT_TEST_KEY]
    )
    store = store_from_url(url)
    hooks_beside(store, url)
    live_url = env.get("PAYMENT_INTENT_LIVE_STORE", "").strip()
    live_store = None
    if live_url:
        live_store = store_from_url(live_url)
        hooks_beside(live_store, live_url)
    dialect = env.get("PAYMENT_INTENT_DIALECT", "").strip() or "casapay"
    origin = env.get("PAYMENT_INTENT_ORIGIN", "").strip() or None
    api = Api.over(dialect, keys, store, live_store=live_store, origin=origin)
    switch = env.get("PAYMENT_INTENT_WEBHOOKS", "on").strip().lower()
    if switch not in ("on", "off"):
        raise ValueError(f"PAYMENT_INTENT_WEBHOOKS is on or off, not {switch!r}.")
    made = Application(api, deliver=switch == "on")
    os.register_at_fork(after_in_child=made.ensure_worker)
    return made


_made: list[Application] = []


def __getattr__(name: str) -> Any:
    """``application`` is made on first use (a WSGI server asks for it after importing), so that
    importing this module opens no store."""
    if name != "application":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _lock:
        if not _made:
            _made.append(create_app())
    return _made[0]


_lock = threading.Lock()
