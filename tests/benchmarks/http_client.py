"""The one HTTP client both servers are driven with: a persistent ``http.client`` connection.

It keeps the connection open between requests when the server allows it (HTTP/1.1 keep-alive)
and reconnects when the server closes it (``Connection: close`` or HTTP/1.0), so it is the
fastest fair client for either kind of server. Bodies are form-encoded, Stripe style.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from typing import Any
from urllib.parse import urlencode


class Client:
    """POSTs form bodies with a Bearer key; counts the connections it had to open."""

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port = host, port
        self.headers = {
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        self.connection: http.client.HTTPConnection | None = None
        self.connects = 0
        self.requests = 0

    def _connect(self) -> http.client.HTTPConnection:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        connection.connect()
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connects += 1
        self.connection = connection
        return connection

    def request(self, method: str, path: str, form: dict[str, Any] | None) -> dict[str, Any]:
        """Send one request and return its JSON body; a refused request raises with its body."""
        body = urlencode(form).encode() if form else b""
        for attempt in (1, 2):
            connection = self.connection or self._connect()
            try:
                connection.request(method, path, body=body, headers=self.headers)
                response = connection.getresponse()
                payload = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The server closed an idle keep-alive connection: open another, once.
                connection.close()
                self.connection = None
                if attempt == 2:
                    raise
                continue
            break
        self.requests += 1
        if response.will_close:
            connection.close()
            self.connection = None
        if response.status >= 400:
            raise RuntimeError(f"{method} {path} -> {response.status}: {payload[:300]!r}")
        return json.loads(payload) if payload else {}

    def reuse(self) -> str:
        """How many requests each connection carried (1 when the server closes every one)."""
        return f"{self.requests / max(self.connects, 1):,.0f} requests per connection"

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def checkouts(self, count: int, manual: bool) -> None:
        """The HTTP checkout: create with the card attached, confirm, capture a part."""
        for _ in range(count):
            intent = self.request(
                "POST",
                "/v1/payment_intents",
                {
                    "amount": 120_000,
                    "currency": "eur",
                    "payment_method": "pm_card_visa",
                    "capture_method": "manual" if manual else "automatic",
                },
            )
            path = f"/v1/payment_intents/{intent['id']}"
            confirmed = self.request("POST", f"{path}/confirm", None)
            if not manual:
                final = confirmed
            else:
                final = self.request("POST", f"{path}/capture", {"amount_to_capture": 100_000})
            if final["status"] != "succeeded":
                raise AssertionError(f"HTTP checkout ended in {final['status']}")


def wait_until_listening(host: str, port: int, timeout: float = 20.0) -> None:
    """Poll until a server accepts connections on ``port`` (or raise after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s") from None
            time.sleep(0.05)


def free_port() -> int:
    """A port nothing listens on now (the kernel's pick for an ephemeral bind)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
