"""Webhook benchmarks: delivery throughput, a checkout's latency while endpoints receive its
events, and requests per second through gunicorn. Prints its figures.

    python tests/benchmarks/bench_webhooks.py [--only delivery,backlog,latency,gunicorn]
        [--postgres DSN] [--backlog-events N]

Without ``--postgres`` a throwaway cluster is started (as the storage tests do) when PostgreSQL's
binaries are installed. Receivers are separate processes on loopback that answer 200 at once.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "storage")]

from payment_intent import ManualClock, PaymentIntents  # noqa: E402
from payment_intent.stores import store_from_url  # noqa: E402
from payment_intent.webhooks import DeliveryWorker, RetrySchedule, Source  # noqa: E402
from payment_intent.webhooks.serving import hooks_beside  # noqa: E402
from tests.webhooks.processes import free_port, serve, store_url  # noqa: E402

KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/x-www-form-urlencoded"}

#: A receiver in its own process: HTTP/1.1 keep-alive, answers 200 at once, counts requests.
RECEIVER = r"""
import sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
count = 0
lock = threading.Lock()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        global count
        self.rfile.read(int(self.headers["Content-Length"]))
        with lock:
            count += 1
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def do_GET(self):
        body = str(count).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
s = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H); s.daemon_threads = True
print("ready", flush=True); s.serve_forever()
"""


@contextmanager
def receiver() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", RECEIVER, str(port)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    process.stdout.readline()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()


def received(url: str) -> int:
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=5)
    connection.request("GET", "/count")
    count = int(connection.getresponse().read())
    connection.close()
    return count


# -- 1. delivery throughput ------------------------------------------------------------------------


def delivery(url: str, label: str, events: int = 3000) -> None:
    store = store_from_url(url)
    hooks = hooks_beside(store, url)
    service = PaymentIntents(store, ManualClock(1706140800))
    with receiver() as target:
        from payment_intent.dialects import Api

        api = Api.over("casapay", [KEY], store, clock=ManualClock(1706140800))
        api.call("webhook_endpoint_create", form=False,
                 params={"url": f"{target}/hooks", "enabled_events": ["*"]})  # fmt: skip
        for n in range(events):
            service.create(amount=100 + n, currency="eur")
        schedule = RetrySchedule.for_test_mode()
        worker = DeliveryWorker([Source(store, hooks, schedule)], poll_interval=0.01)
        started = time.perf_counter()
        worker.start()
        while received(target) < events:
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        worker.stop()
    rate = events / elapsed
    print(f"delivery  {label:10s} {events} events in {elapsed:.2f} s: {rate:,.0f} events/s")
    store.close()


# -- 2. draining a backlog to many endpoints -------------------------------------------------------


def backlog(url: str, label: str, events: int = 3000, endpoints: int = 10) -> None:
    """``events`` creates made before the worker starts, each to ``endpoints`` endpoints: the
    worker drains ``events * endpoints`` deliveries, at most ``concurrency`` in flight, so its
    rounds run while most of the backlog waits."""
    store = store_from_url(url)
    hooks = hooks_beside(store, url)
    service = PaymentIntents(store, ManualClock(1706140800))
    with receiver() as target:
        from payment_intent.dialects import Api

        api = Api.over("casapay", [KEY], store, clock=ManualClock(1706140800))
        for number in range(endpoints):
            made = {"url": f"{target}/hooks/{number}", "enabled_events": ["*"]}
            api.call("webhook_endpoint_create", form=False, params=made)
        for n in range(events):
            service.create(amount=100 + n, currency="eur")
        schedule = RetrySchedule.for_test_mode()
        worker = DeliveryWorker([Source(store, hooks, schedule)], poll_interval=0.01)
        total = events * endpoints
        started = time.perf_counter()
        worker.start()
        while received(target) < total:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        worker.stop()
    print(
        f"backlog   {label:10s} {events} events to {endpoints} endpoints: {total} deliveries "
        f"in {elapsed:.2f} s: {total / elapsed:,.0f} deliveries/s"
    )
    store.close()


# -- 3. a checkout's latency while endpoints receive its events ------------------------------------


def _post(connection: http.client.HTTPConnection, path: str, fields: dict[str, str]) -> str:
    connection.request("POST", path, body=urlencode(fields), headers=AUTH)
    response = connection.getresponse()
    body = response.read()
    assert response.status == 200, body
    return str(json.loads(body)["id"])


def checkout(connection: http.client.HTTPConnection) -> float:
    """A manual-capture checkout: create, confirm, capture part (three events)."""
    started = time.perf_counter()
    made = {"amount": "5000", "currency": "eur", "capture_method": "manual"}
    intent = _post(connection, "/v1/payment_intents", made)
    _post(connection, f"/v1/payment_intents/{intent}/confirm", {"payment_method": "pm_card_visa"})
    _post(connection, f"/v1/payment_intents/{intent}/capture", {"amount_to_capture": "4000"})
    return time.perf_counter() - started


def delivered(connection: http.client.HTTPConnection, events: int) -> bool:
    """Whether every endpoint acknowledged the newest ``events`` events, as the server records
    it (``pending_webhooks`` 0 on each)."""
    connection.request("GET", f"/v1/events?limit={events}", headers=AUTH)
    response = connection.getresponse()
    page = json.loads(response.read())
    return all(event["pending_webhooks"] == 0 for event in page["data"])


def latency(
    db: str,
    label: str,
    endpoints_counts: tuple[int, ...] = (0, 1, 10),
    seconds: float = 3.0,
    checkouts: int = 150,
) -> None:
    """Over ``db``: ``memory://`` delivers from the server's process, a SQLite file (``serve``'s
    default) from a process of its own.

    *Sustained*: checkouts back to back for ``seconds`` (longer than the worker's ``max_hold``,
    so deliveries run beside the checkouts that follow). *One at a time*: each of ``checkouts``
    starts once every endpoint has acknowledged the previous one's events, so only its own
    deliveries can run beside it."""
    results: dict[int, list[float]] = {}
    spaced: dict[int, list[float]] = {}
    with tempfile.TemporaryDirectory() as directory, receiver() as target:
        for endpoints in endpoints_counts:
            store = db.replace("{n}", str(endpoints))  # a fresh file per server
            served = serve("--db", store, cwd=Path(directory))
            try:
                connection = http.client.HTTPConnection(served.url.removeprefix("http://"))
                for number in range(endpoints):
                    fields = {"url": f"{target}/hooks/{number}", "enabled_events[0]": "*"}
                    _post(connection, "/v1/webhook_endpoints", fields)
                for _ in range(30):  # warm up
                    checkout(connection)
                timings = []
                until = time.perf_counter() + seconds
                while time.perf_counter() < until:
                    timings.append(checkout(connection))
                results[endpoints] = timings
                drained = time.monotonic()
                deadline = drained + 600
                while not delivered(connection, 100) and time.monotonic() < deadline:
                    time.sleep(0.05)
                drained = time.monotonic() - drained
                alone = []
                for _ in range(checkouts):
                    alone.append(checkout(connection))
                    while not delivered(connection, 3) and time.monotonic() < deadline:
                        time.sleep(0.002)
                if time.monotonic() >= deadline:
                    raise RuntimeError(f"{label}: the events were not delivered in 600 s")
                print(
                    f"latency   {label} {endpoints:2d} endpoints: {len(timings)} checkouts in "
                    f"{seconds:.0f} s, their events all delivered {drained:.1f} s after"
                )
                spaced[endpoints] = alone
                connection.close()
            finally:
                served.stop()
    for mode, measured in (("sustained", results), ("one at a time", spaced)):
        base = statistics.median(measured[0])
        for endpoints, timings in measured.items():
            median = statistics.median(timings)
            print(
                f"latency   {label} {mode:13s} {endpoints:2d} endpoints: "
                f"{len(timings):5d} checkouts, median {median * 1e3:.2f} ms, "
                f"mean {statistics.fmean(timings) * 1e3:.2f} ms, p95 "
                f"{sorted(timings)[int(len(timings) * 0.95)] * 1e3:.2f} ms "
                f"({median / base - 1:+.1%})"
            )


# -- 4. gunicorn workers over PostgreSQL -----------------------------------------------------------


def gunicorn(
    url: str, workers: tuple[int, ...] = (1, 2, 4), seconds: float = 8.0, clients: int = 8
) -> None:
    for count in workers:
        port = free_port()
        env = {**os.environ, "PAYMENT_INTENT_STORE": url, "PAYMENT_INTENT_API_KEYS": KEY}
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(count), "-b", f"127.0.0.1:{port}",
             "--log-level", "warning", "payment_intent.wsgi:application"], env=env,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    probe.request("GET", "/v1/events?limit=1", headers=AUTH)
                    probe.getresponse().read()
                    break
                except OSError:
                    time.sleep(0.2)
            done = [0] * clients
            stop = time.monotonic() + seconds

            def client(
                index: int, port: int = port, stop: float = stop, done: list[int] = done
            ) -> None:
                connection = http.client.HTTPConnection("127.0.0.1", port)
                while time.monotonic() < stop:
                    connection.request("POST", "/v1/payment_intents", headers=AUTH,
                                       body="amount=5000&currency=eur")  # fmt: skip
                    response = connection.getresponse()
                    response.read()
                    if response.will_close:
                        connection.close()
                        connection = http.client.HTTPConnection("127.0.0.1", port)
                    done[index] += 1

            threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            rate = sum(done) / seconds
            print(f"gunicorn  {count} workers: {rate:,.0f} creates/s ({clients} clients)")
        finally:
            process.terminate()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="delivery,backlog,latency,gunicorn")
    parser.add_argument("--postgres", help="a PostgreSQL URL (default: a throwaway cluster)")
    parser.add_argument("--backlog-events", type=int, default=3000, help="creates in the backlog")
    args = parser.parse_args()
    only = set(args.only.split(","))
    with ExitStack() as stack, tempfile.TemporaryDirectory() as directory:
        postgres = args.postgres
        if postgres is None and only & {"delivery", "gunicorn"}:
            from postgres_server import throwaway_cluster

            postgres = store_url(stack.enter_context(throwaway_cluster()))
        if "delivery" in only:
            delivery(f"sqlite:///{directory}/bench.sqlite3", "SQLite")
            assert postgres is not None
            delivery(postgres, "PostgreSQL")
        if "backlog" in only:
            backlog("memory://", "memory", args.backlog_events)
            backlog(f"sqlite:///{directory}/backlog.sqlite3", "SQLite", args.backlog_events)
        if "latency" in only:
            latency("memory://", "memory")
            latency("sqlite:///latency-{n}.sqlite3", "SQLite")
        if "gunicorn" in only:
            assert postgres is not None
            gunicorn(postgres)


if __name__ == "__main__":
    main()
