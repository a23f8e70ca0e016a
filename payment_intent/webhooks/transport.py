"""Posting a signed event to a receiver over HTTP(S), with the standard library only.

Connections to a receiver are kept open between deliveries (HTTP/1.1 keep-alive), as the
providers' senders do: a busy endpoint then costs one request per event, not a connect each. A
receiver's 2xx answer acknowledges the event; anything else, a timeout or a connection error is an
unacknowledged attempt (redirects are not followed, as the providers do not follow them).
"""

from __future__ import annotations

import contextlib
import http.client
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

#: Bytes of a receiver's answer that are read (and dropped) so the connection can be reused.
MAX_ANSWER = 64 * 1024
#: Idle connections kept per receiver (scheme, host, port): as many as a worker sends at once
#: (its ``concurrency``), so endpoints that share a host never reconnect for want of one.
IDLE_PER_RECEIVER = 16
USER_AGENT = "payment_intent-webhooks/0.1"


@dataclass(frozen=True, slots=True)
class Answer:
    """What one POST came to: the status code (``None`` when none came), why not, and how long
    it took in seconds."""

    status_code: int | None
    error: str | None
    duration: float

    @property
    def acknowledged(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


_Key = tuple[str, str, int]


class Transport:
    """Sends POST requests, keeping a few idle connections per receiver. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[_Key, list[http.client.HTTPConnection]] = {}
        self._tls = ssl.create_default_context()

    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
        started = time.perf_counter()
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        key = (scheme, host, port)
        sent = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            **headers,
        }
        reused, connection = self._take(key, timeout)
        try:
            status = self._exchange(connection, target, body, sent)
        except (
            ConnectionError,
            http.client.RemoteDisconnected,
            http.client.BadStatusLine,
        ) as error:
            connection.close()
            if not reused:
                return Answer(None, _describe(error), time.perf_counter() - started)
            # A kept connection the receiver had closed meanwhile: the request never reached it.
            _, connection = self._take(key, timeout, fresh=True)
            try:
                status = self._exchange(connection, target, body, sent)
            except (OSError, http.client.HTTPException) as again:
                connection.close()
                return Answer(None, _describe(again), time.perf_counter() - started)
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            return Answer(None, _describe(error), time.perf_counter() - started)
        self._give_back(key, connection)
        return Answer(status, None, time.perf_counter() - started)

    def _exchange(
        self,
        connection: http.client.HTTPConnection,
        target: str,
        body: bytes,
        headers: dict[str, str],
    ) -> int:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        response.read(MAX_ANSWER)
        if not response.isclosed():
            # An answer longer than we read: the rest would poison the next request.
            connection.close()
        status = response.status
        if response.will_close:
            connection.close()
        return status

    def _take(
        self, key: _Key, timeout: float, fresh: bool = False
    ) -> tuple[bool, http.client.HTTPConnection]:
        if not fresh:
            with self._lock:
                idle = self._idle.get(key)
                if idle:
                    connection = idle.pop()
                    connection.timeout = timeout
                    if connection.sock is not None:
                        connection.sock.settimeout(timeout)
                    return True, connection
        scheme, host, port = key
        if scheme == "https":
            return False, http.client.HTTPSConnection(
                host, port, timeout=timeout, context=self._tls
            )
        return False, http.client.HTTPConnection(host, port, timeout=timeout)

    def _give_back(self, key: _Key, connection: http.client.HTTPConnection) -> None:
        if connection.sock is None:
            return
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < IDLE_PER_RECEIVER:
                idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                with contextlib.suppress(OSError):
                    connection.close()


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timeout: the receiver did not answer in time"
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:500]
