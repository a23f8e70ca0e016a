"""Choosing a store by URL, in code or through the environment.

========================================  ==============================================
URL                                       store
========================================  ==============================================
``memory://``                             :class:`~payment_intent.InMemoryStore`
``sqlite:///relative/path.db``            :class:`~payment_intent.SQLiteStore`, relative
``sqlite:////absolute/path.db``           :class:`~payment_intent.SQLiteStore`, absolute
``postgresql://user:pw@host:port/db``     :class:`~payment_intent.PostgresStore`
``postgres://...``                        the same
========================================  ==============================================

A SQLite URL may carry ``?busy_timeout=<seconds>``; a PostgreSQL URL is handed to libpq as it is,
so every libpq parameter works in its query string. ``PAYMENT_INTENT_STORE`` names the store that
:class:`~payment_intent.PaymentIntents` uses when it is given none; unset, that is in-memory.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, unquote, urlsplit

from payment_intent.adapters.memory import InMemoryStore
from payment_intent.domain.errors import InvalidRequestError, parameter_invalid
from payment_intent.ports import Store

#: The environment variable holding the default store's URL.
STORE_ENV = "PAYMENT_INTENT_STORE"

_SCHEMES = "memory://, sqlite:///path.db, sqlite:////absolute/path.db or postgresql://..."


def store_from_url(url: str) -> Store:
    """The store a URL names; a URL no store understands is refused, naming ``store``."""
    if not isinstance(url, str) or not url.strip():
        raise _bad(f"A store URL must be a non-empty string such as {_SCHEMES}.")
    url = url.strip()
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme == "memory":
        if rest:
            raise _bad(f"memory:// takes no path or options, got {url!r}.")
        return InMemoryStore()
    if scheme == "sqlite":
        return _sqlite(url)
    if scheme in ("postgresql", "postgres"):
        return _postgres(url)
    raise _bad(f"Unknown store URL {url!r}: use {_SCHEMES}.")


def default_store() -> Store:
    """The store named by ``PAYMENT_INTENT_STORE``, or a new in-memory store when it is unset."""
    url = os.environ.get(STORE_ENV, "").strip()
    if not url:
        return InMemoryStore()
    try:
        return store_from_url(url)
    except InvalidRequestError as error:
        raise _bad(f"{STORE_ENV}: {error.message}") from None


def _sqlite(url: str) -> Store:
    from payment_intent.adapters.sqlite import SQLiteStore

    parts = urlsplit(url)
    if parts.netloc:
        raise _bad(
            f"A SQLite URL has no host: write sqlite:///relative.db or sqlite:////absolute.db, "
            f"not {url!r}."
        )
    path = unquote(parts.path[1:]) if parts.path.startswith("/") else ""
    if not path or path.endswith("/"):
        raise _bad(f"The SQLite URL {url!r} names no database file.")
    if parts.fragment:
        raise _bad(f"A SQLite URL takes no fragment: {url!r}.")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = set(options) - {"busy_timeout"}
    if unknown:
        raise _bad(f"Unknown SQLite URL option(s): {', '.join(sorted(unknown))}.")
    if "busy_timeout" not in options:
        return SQLiteStore(path)
    try:
        busy_timeout = float(options["busy_timeout"])
    except ValueError:
        raise _bad("busy_timeout must be a number of seconds.") from None
    if not busy_timeout >= 0:
        raise _bad("busy_timeout must be a non-negative number of seconds.")
    return SQLiteStore(path, busy_timeout=busy_timeout)


def _postgres(url: str) -> Store:
    try:
        from payment_intent.adapters.postgres import PostgresStore
    except ImportError as error:
        raise ModuleNotFoundError(
            'A postgresql:// store needs psycopg 3: pip install "payment_intent[postgres]".'
        ) from error
    try:
        return PostgresStore(url)
    except InvalidRequestError as error:
        if error.param == "dsn":
            raise _bad(error.message) from None
        raise


def _bad(message: str) -> InvalidRequestError:
    return parameter_invalid("store", message)
