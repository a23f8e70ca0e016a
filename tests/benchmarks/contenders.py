"""Every contender of the checkout workloads: the project on each store and over HTTP, and peers.

A contender is a name, how to open it (a context manager yielding a :class:`Runner`), and why it
is skipped when it cannot run. The harness (``run.py``) opens all contenders of a workload, then
times them round-robin, so a slow minute of the shared machine hits them all alike.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "storage"))

from http_client import Client, free_port, wait_until_listening

from payment_intent import InMemoryStore, ManualClock, PaymentIntents, SQLiteStore

NOW = 1_706_140_800
KEY = "sk_test_benchmark_key"
#: What the ``payment-intent`` console script runs, started with this interpreter.
SERVE_CODE = (
    "import sys; from payment_intent.cli import main_exit; sys.argv[0] = 'payment-intent'; "
    "main_exit()"
)
_keys = itertools.count()


@dataclass
class Runner:
    """What the harness drives: ``run(n)`` does n checkouts; ``begin_pass`` resets between passes.

    ``pass_size`` fixes the checkouts per pass (else the harness sizes passes by time);
    ``pid`` names a server process whose peak memory (VmHWM) is reported instead of tracemalloc's;
    ``notes`` says what else the table should show (requests carried per HTTP connection).
    """

    run: Callable[[int], None]
    begin_pass: Callable[[], None] = lambda: None
    pass_size: int | None = None
    pid: int | None = None
    notes: Callable[[], str] = lambda: ""


@dataclass
class Contender:
    """A row of a workload's table; ``project`` marks the row the ratios are taken against."""

    name: str
    open: Callable[[], AbstractContextManager[Runner]]
    skip: str | None = None
    project: bool = False
    target: float | None = None  # the minimum "peer µs / project µs" the issue asks for
    target_text: str = ""


def _missing(module: str, extra: str = "bench") -> str | None:
    try:
        __import__(module)
    except Exception as error:
        return f"{module} not importable ({type(error).__name__}); pip install -e '.[{extra}]'"
    return None


# -- the project ---------------------------------------------------------------------------------


def service_checkouts(service: PaymentIntents, count: int, manual: bool, keyed: bool) -> None:
    """The manual (or automatic) checkout through the public service; ``keyed`` sends an
    idempotency key with every command, as a Stripe client retrying safely would."""
    capture_method = "manual" if manual else "automatic"
    for _ in range(count):
        key = f"checkout-{next(_keys)}-" if keyed else None
        intent = service.create(
            amount=120_000,
            currency="eur",
            capture_method=capture_method,
            idempotency_key=key and key + "c",
        )
        intent = service.confirm(
            intent.id, payment_method="pm_card_visa", idempotency_key=key and key + "f"
        )
        if manual:
            intent = service.capture(
                intent.id, amount_to_capture=100_000, idempotency_key=key and key + "p"
            )
        if intent.status != "succeeded":
            raise AssertionError(f"checkout ended in {intent.status}")


@contextmanager
def project_memory(manual: bool) -> Iterator[Runner]:
    state: dict[str, PaymentIntents] = {}

    def begin_pass() -> None:
        state["service"] = PaymentIntents(store=InMemoryStore(), clock=ManualClock(NOW))

    begin_pass()
    yield Runner(lambda n: service_checkouts(state["service"], n, manual, False), begin_pass)


@contextmanager
def project_sqlite(manual: bool) -> Iterator[Runner]:
    with tempfile.TemporaryDirectory(prefix="harness-sqlite-") as directory:
        store = SQLiteStore(Path(directory) / "bench.db")
        try:
            service = PaymentIntents(store=store, clock=ManualClock(NOW))
            yield Runner(lambda n: service_checkouts(service, n, manual, True))
        finally:
            store.close()


@contextmanager
def project_postgres(dsn: str, manual: bool) -> Iterator[Runner]:
    from payment_intent.adapters.postgres import PostgresStore

    store = PostgresStore(dsn)
    try:
        service = PaymentIntents(store=store, clock=ManualClock(NOW))
        yield Runner(lambda n: service_checkouts(service, n, manual, True))
    finally:
        store.close()


@contextmanager
def _server(command: list[str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_listening("127.0.0.1", port)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def project_http(manual: bool) -> Iterator[Runner]:
    """``payment-intent serve`` on the in-memory store, in its own process (its own GIL)."""
    port = free_port()
    command = [
        sys.executable, "-c", SERVE_CODE, "serve", "--db", "memory://",
        "--port", str(port), "--api-key", KEY,
    ]  # fmt: skip
    with _server(command, port) as process:
        client = Client("127.0.0.1", port, KEY)
        try:
            yield Runner(lambda n: client.checkouts(n, manual), pid=process.pid, notes=client.reuse)
        finally:
            client.close()


# -- the peers -----------------------------------------------------------------------------------


@contextmanager
def floor(manual: bool) -> Iterator[Runner]:
    from peers.floor import checkout

    def run(n: int) -> None:
        for _ in range(n):
            checkout(manual)

    yield Runner(run)


@contextmanager
def transitions_shared(manual: bool) -> Iterator[Runner]:
    from peers.transitions_peers import Shared

    machine = Shared()

    def run(n: int) -> None:
        for _ in range(n):
            machine.checkout(manual)

    yield Runner(run)


@contextmanager
def transitions_per_object(manual: bool) -> Iterator[Runner]:
    from peers.transitions_peers import per_object_checkout

    def run(n: int) -> None:
        for _ in range(n):
            per_object_checkout(manual)

    yield Runner(run)


@contextmanager
def statemachine_per_object(manual: bool) -> Iterator[Runner]:
    from peers.statemachine_peer import PerObject

    peer = PerObject()

    def run(n: int) -> None:
        for _ in range(n):
            peer.checkout(manual)

    yield Runner(run)


@contextmanager
def localstripe_in_process(manual: bool) -> Iterator[Runner]:
    from peers.localstripe_peer import PASS, InProcess

    peer = InProcess()
    try:
        yield Runner(lambda n: peer.run(n, manual), peer.begin_pass, pass_size=PASS)
    finally:
        peer.close()


@contextmanager
def localstripe_http(manual: bool) -> Iterator[Runner]:
    from peers.localstripe_peer import PASS, SERVER_CODE, flush_server

    port = free_port()
    command = [sys.executable, "-c", SERVER_CODE, "--port", str(port), "--from-scratch"]
    with _server(command, port) as process:
        client = Client("127.0.0.1", port, KEY)
        try:
            yield Runner(
                lambda n: client.checkouts(n, manual),
                lambda: flush_server(client),
                pass_size=PASS,
                pid=process.pid,
                notes=client.reuse,
            )
        finally:
            client.close()


@contextmanager
def raw_sqlite(manual: bool) -> Iterator[Runner]:
    from peers.raw_sql import RawSQLite

    with tempfile.TemporaryDirectory(prefix="harness-raw-") as directory:
        peer = RawSQLite(Path(directory) / "raw.db")
        try:
            yield Runner(lambda n: peer.run(n, manual))
        finally:
            peer.close()


@contextmanager
def raw_postgres(dsn: str, manual: bool) -> Iterator[Runner]:
    from peers.raw_sql import RawPostgres

    peer = RawPostgres(dsn)
    try:
        yield Runner(lambda n: peer.run(n, manual))
    finally:
        peer.close()


# -- the workloads -------------------------------------------------------------------------------


def in_process(manual: bool) -> list[Contender]:
    """The project's service on the in-memory store against the in-process peers."""
    ls_skip = _missing("localstripe.resources")
    peers = [
        Contender("payment_intent, InMemoryStore", lambda: project_memory(manual), project=True),
        Contender("dataclass + dict table (floor)", lambda: floor(manual)),
        Contender("transitions, shared machine, bare", lambda: transitions_shared(manual)),
        Contender("transitions, machine per object", lambda: transitions_per_object(manual)),
        Contender(
            "python-statemachine, per object",
            lambda: statemachine_per_object(manual),
            skip=_missing("statemachine"),
        ),
        Contender("localstripe, in process", lambda: localstripe_in_process(manual), skip=ls_skip),
    ]
    if manual:
        for contender in peers:
            if contender.name.startswith("transitions, shared"):
                contender.target, contender.target_text = 0.5, "project ≤ 2x its time"
            elif contender.name.startswith("transitions, machine per"):
                contender.target, contender.target_text = 8.0, "≥ 8x"
            elif contender.name.startswith("localstripe"):
                contender.target, contender.target_text = 20.0, "≥ 20x"
    return peers


def sqlite(manual: bool) -> list[Contender]:
    raw = Contender("raw sqlite3, 1 commit per step", lambda: raw_sqlite(manual))
    if manual:
        raw.target, raw.target_text = 0.6, "project ≥ 60% of its rate"
    return [
        Contender("payment_intent, SQLiteStore", lambda: project_sqlite(manual), project=True),
        raw,
    ]


def postgres(dsn: str | None, why: str | None, manual: bool) -> list[Contender]:
    return [
        Contender(
            "payment_intent, PostgresStore",
            lambda: project_postgres(dsn or "", manual),
            skip=why,
            project=True,
        ),
        Contender(
            "raw psycopg, 1 commit per step", lambda: raw_postgres(dsn or "", manual), skip=why
        ),
    ]


def http(manual: bool) -> list[Contender]:
    localstripe = Contender(
        "localstripe server", lambda: localstripe_http(manual), skip=_missing("localstripe.server")
    )
    if manual:
        localstripe.target, localstripe.target_text = 10.0, "≥ 10x"
    return [
        Contender("payment-intent serve (memory)", lambda: project_http(manual), project=True),
        localstripe,
    ]
