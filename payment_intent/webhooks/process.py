"""Delivery in a process of its own, for ``serve`` over a store that processes can share.

A delivery worker in the server's process competes with the API for the interpreter lock: each
POST to a receiver is a few hundred microseconds of Python, and a checkout's three events sent to
ten endpoints are thirty of them, several times the checkout's own work (see
``docs/benchmarks.md``). Over SQLite and PostgreSQL the feed, the cursors and the leases already
live in the database, so another process can deliver with the same guarantees while the server's
interpreter serves requests only. An in-memory store cannot be shared; its worker stays in the
server.

The child reads what to deliver (store URLs and retry schedules) as one JSON line on its stdin and
runs until its stdin closes: when the server stops it (it then records the attempts in flight),
and when the server dies. On Linux it also dies with the server at once (``PR_SET_PDEATHSIG``), so
a SIGKILL of ``serve`` stops its deliveries as it would stop a worker thread: what was in flight
is taken again when its lease lapses.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from typing import Any

from payment_intent.webhooks.model import RetrySchedule

#: The store URL schemes whose webhook tables another process can reach.
SHARED_SCHEMES = ("sqlite", "postgresql", "postgres")


def can_share(url: str) -> bool:
    """Whether a store opened from ``url`` can be delivered for by another process."""
    return url.split("://", 1)[0].lower() in SHARED_SCHEMES


class DeliveryProcess:
    """A child process delivering the events of ``modes``: (store URL, schedule) per mode."""

    def __init__(self, modes: list[tuple[str, RetrySchedule]]) -> None:
        if not modes or not all(can_share(url) for url, _ in modes):
            raise ValueError("modes must name SQLite or PostgreSQL stores, at least one.")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "payment_intent.webhooks.process"],
            stdin=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdin is not None
        plan = {
            "server": os.getpid(),
            "modes": [{"store": url, "schedule": dataclasses.asdict(s)} for url, s in modes],
        }
        self.process.stdin.write(json.dumps(plan) + "\n")
        self.process.stdin.flush()

    def stop(self, timeout: float = 15.0) -> None:
        """Close the child's stdin (it records its attempts in flight and exits); wait up to
        ``timeout`` seconds, then kill it."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def main() -> None:
    """The child: deliver for the stores named on stdin until stdin closes."""
    # Ctrl-C reaches the whole process group; the server decides when delivery stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from payment_intent.stores import store_from_url
    from payment_intent.webhooks.delivery import DeliveryWorker, Source
    from payment_intent.webhooks.serving import hooks_beside

    plan: dict[str, Any] = json.loads(sys.stdin.readline() or "{}")
    _die_with(int(plan.get("server", 0)))
    modes: list[dict[str, Any]] = plan.get("modes", [])
    stores = [store_from_url(mode["store"]) for mode in modes]
    sources = [
        Source(store, hooks_beside(store, mode["store"]), RetrySchedule(**mode["schedule"]))
        for store, mode in zip(stores, modes, strict=True)
    ]
    worker = DeliveryWorker(sources).start()
    try:
        sys.stdin.read()  # returns at EOF: the server stopped or died
    finally:
        worker.stop()
        for store in stores:
            store.close()


def _die_with(server: int) -> None:
    """Have the kernel kill this process when ``server`` (its parent) dies; Linux only, stdin's
    end of file stops it elsewhere."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != server:  # the server died before the request took effect
        os._exit(0)


if __name__ == "__main__":
    main()
