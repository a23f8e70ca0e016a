"""Fixtures for the wire tests: an Api per dialect over an in-memory store, and a real server."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from payment_intent import InMemoryStore, ManualClock
from payment_intent.dialects import Api
from payment_intent.server import make_server

#: The test key the CasaPay seed's curl examples send; the tests configure it like any user would.
SEED_KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
LIVE_KEY = "sk_live_9xQ2mN4pL8rT6vW1yZ3bC5dF"
PUBLISHABLE_KEY = "pk_test_7hJ2kL4mN6pQ8rS0tU2vW4xY"
#: The moment the CasaPay seed's example intent was created.
SEED_TIME = 1706140800


def bearer(key: str = SEED_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def basic(key: str = SEED_KEY) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def auth_for(dialect: str, key: str = SEED_KEY) -> dict[str, str]:
    return bearer(key) if dialect == "casapay" else basic(key)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(SEED_TIME)


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


def make_api(
    dialect: str,
    store: InMemoryStore,
    clock: ManualClock,
    *,
    live_store: InMemoryStore | None = None,
    keys: tuple[str, ...] = (SEED_KEY,),
    origin: str | None = None,
) -> Api:
    return Api.over(dialect, keys, store, live_store=live_store, clock=clock, origin=origin)


@pytest.fixture
def casapay(store: InMemoryStore, clock: ManualClock) -> Api:
    return make_api("casapay", store, clock)


@pytest.fixture
def payrex(store: InMemoryStore, clock: ManualClock) -> Api:
    return make_api("payrex", store, clock)


@contextmanager
def serving(api: Api | Callable[[str], Api], *, idle_timeout: float = 30.0) -> Iterator[str]:
    """A real threaded HTTP server for ``api`` on a free loopback port; yields its base URL.

    ``api`` may be a function of the server's origin, so redirects lead back to the server."""
    server = make_server(api, "127.0.0.1", 0, idle_timeout=idle_timeout)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
