"""Fixtures for the wire tests: an Api per dialect over an in-memory store, and a real server."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

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
def serving(api: Api | Callable[[str], Api], **settings: Any) -> Iterator[str]:
    """A real threaded HTTP server for ``api`` on a free loopback port; yields its base URL.

    ``api`` may be a function of the server's origin, so redirects lead back to the server;
    ``settings`` are :func:`make_server`'s (``idle_timeout``, ``request_timeout``,
    ``max_connections``)."""
    server = make_server(api, "127.0.0.1", 0, **settings)
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


# -- raw HTTP/1.1 on a socket, for the server's own tests ----------------------------------------

#: The header fields every raw request needs: the host HTTP/1.1 requires, and the seed's key.
AUTH = f"Host: test\r\nAuthorization: Bearer {SEED_KEY}\r\n"
FORM = "Content-Type: application/x-www-form-urlencoded\r\n"


@contextmanager
def connected(url: str, timeout: float = 10) -> Iterator[socket.socket]:
    """A plain TCP connection to the server at ``url``; a read that waits ``timeout`` seconds
    fails the test, so a server that never answers cannot hang it."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    assert host is not None
    assert port is not None
    with socket.create_connection((host, port), timeout=timeout) as sock:
        yield sock


def read_response(reader: Any) -> tuple[int, dict[str, str], bytes]:
    """One response off a socket's file: status, headers (lower-case names), body."""
    status_line = reader.readline()
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    headers: dict[str, str] = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = reader.read(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


def assert_closed(sock: socket.socket) -> None:
    """Read to the end of the stream: a connection the server keeps open makes the read time out
    (the test sockets wait 10 seconds) and fails the test."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass


def raw_request(method: str, path: str, headers: str = AUTH, body: bytes = b"") -> bytes:
    """A request's bytes, with ``Content-Length`` when there is a body."""
    length = f"Content-Length: {len(body)}\r\n" if body else ""
    return f"{method} {path} HTTP/1.1\r\n{headers}{length}\r\n".encode() + body
