"""A webhook receiver for the tests: an HTTP server on loopback that keeps every request it gets
and answers as it is told (fail the first N, hang, or acknowledge at once)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def signed_at(self) -> int:
        """The wall-clock second the sender signed this attempt at (``t=`` of its signature)."""
        header = self.headers.get("stripe-signature") or self.headers["payrex-signature"]
        return int(dict(part.split("=", 1) for part in header.split(","))["t"])

    @property
    def event(self) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(self.body)
        return decoded


@dataclass
class Script:
    """How the receiver answers: ``fail_first`` requests get ``fail_status``; ``hang`` seconds of
    silence before each answer (a receiver that never answers in time)."""

    fail_first: int = 0
    fail_status: int = 500
    status: int = 200
    hang: float = 0.0
    seen: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer_with(self, status: int) -> None:
        """From now on, answer ``status`` (after the failures still owed)."""
        with self.lock:
            self.status = status

    def next_status(self) -> int:
        with self.lock:
            self.seen += 1
            return self.fail_status if self.seen <= self.fail_first else self.status


class Receiver:
    def __init__(self, server: ThreadingHTTPServer, script: Script) -> None:
        self.server = server
        self.script = script
        self.received: list[Received] = []
        self.arrived = threading.Condition()
        host, port = server.server_address[:2]
        self.url = f"http://{host}:{port}/hooks"

    def record(self, request: Received) -> None:
        with self.arrived:
            self.received.append(request)
            self.arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The first ``count`` requests, waiting up to ``timeout`` seconds for them."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} webhook requests, got {len(self.received)}"
                    )
                self.arrived.wait(left)
            return list(self.received[:count])

    def events(self, signed_after: int | None = None) -> list[dict[str, Any]]:
        """The events received; with ``signed_after``, those of attempts signed after that
        second only."""
        with self.arrived:
            return [
                request.event
                for request in self.received
                if signed_after is None or request.signed_at > signed_after
            ]


@contextmanager
def receiving(script: Script | None = None) -> Iterator[Receiver]:
    """A receiver on a free loopback port for the length of the block."""
    plan = script if script is not None else Script()
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            holder[0].record(
                Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                         time.time())
            )  # fmt: skip
            if plan.hang:
                time.sleep(plan.hang)
            status = plan.next_status()
            answer = b'{"received": true}'
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:
                self.close_connection = True  # the sender gave up waiting: nobody to answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(server, plan)
    holder.append(receiver)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
