"""``payment-intent serve`` as the local provider people know: it starts with no flags, forwards
signed events (--forward-to), ``trigger`` makes each event happen, its failures are one line, and
neither a SIGKILL nor a second process loses or doubles a delivery."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import requests
import stripe

from tests.webhooks.processes import run_cli, serve, store_url
from tests.webhooks.receiver import Script, receiving

DEFAULT_KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
HEADERS = {"Authorization": f"Bearer {DEFAULT_KEY}"}


def test_serve_starts_with_no_flags_and_says_where_with_what(tmp_path: Path) -> None:
    served = serve(cwd=tmp_path)
    try:
        banner = "\n".join(served.banner)
        assert "casapay on http://127.0.0.1:" in banner
        assert "/v1" in banner
        assert "store: sqlite:///payment_intents.sqlite3" in banner
        assert f"test key: {DEFAULT_KEY}" in banner
        made = requests.post(
            f"{served.url}/v1/payment_intents", headers=HEADERS,
            data={"amount": "100", "currency": "eur"}, timeout=10,
        )  # fmt: skip
        assert made.status_code == 200
    finally:
        served.stop()
    assert (tmp_path / "payment_intents.sqlite3").exists()


def _taken_port() -> tuple[socket.socket, int]:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder, holder.getsockname()[1]


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--port", "PORT_IN_USE"], "is in use"),
        (["--api-key", "sk_test_short"], "An API key must look like"),
        (["--port", "http"], "a port is a number"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
        (["--db", "mongodb://x"], "Unknown store URL"),
        (["--forward-to", "ftp://x"], "--forward-to: Invalid url"),
        (["--clock", "sundial"], "invalid choice"),
    ],
)
def test_a_failure_to_start_is_one_line_on_stderr_and_status_2(
    flags: list[str], said: str, tmp_path: Path
) -> None:
    holder, port = _taken_port()
    try:
        args = [str(port) if f == "PORT_IN_USE" else f for f in flags]
        finished = run_cli("serve", "--db", "memory://", *args, cwd=tmp_path)
    finally:
        holder.close()
    assert finished.returncode == 2
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1, finished.stderr
    assert said in lines[0]
    assert "Traceback" not in finished.stderr
    assert finished.stdout == ""


CASAPAY_EVENTS = [
    "payment_intent.created",
    "payment_intent.requires_action",
    "payment_intent.processing",
    "payment_intent.amount_capturable_updated",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "charge.refunded",
    "refund.created",
    "refund.updated",
    "refund.failed",
]


def test_forward_to_and_trigger_deliver_every_event_type_signed(tmp_path: Path) -> None:
    with receiving() as receiver:
        served = serve("--db", "memory://", "--forward-to", receiver.url, cwd=tmp_path)
        try:
            for event in CASAPAY_EVENTS:
                done = run_cli("trigger", event, "--url", served.url, cwd=tmp_path)
                assert done.returncode == 0, done.stdout + done.stderr
                assert f"Triggered {event}." in done.stdout
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                seen = {e["type"] for e in receiver.events()}
                if seen >= set(CASAPAY_EVENTS):
                    break
                time.sleep(0.1)
        finally:
            served.stop()
    assert {e["type"] for e in receiver.events()} >= set(CASAPAY_EVENTS)
    for request in receiver.received:
        stripe.Webhook.construct_event(
            request.body, request.headers["stripe-signature"], served.secret
        )


def test_trigger_speaks_payrex_and_says_what_cannot_happen_there(tmp_path: Path) -> None:
    with receiving() as receiver:
        served = serve("--dialect", "payrex", "--db", "memory://", "--forward-to", receiver.url,
                       cwd=tmp_path)  # fmt: skip
        try:
            held = run_cli("trigger", "payment_intent.awaiting_capture", "--dialect", "payrex",
                           "--url", served.url, cwd=tmp_path)  # fmt: skip
            never = run_cli("trigger", "payment_intent.processing", "--dialect", "payrex",
                            "--url", served.url, cwd=tmp_path)  # fmt: skip
            refunds = [
                run_cli("trigger", event, "--dialect", "payrex", "--url", served.url, cwd=tmp_path)
                for event in ("payment.refunded", "refund.updated", "refund.failed")
            ]
            receiver.wait_for(2)
        finally:
            served.stop()
    assert held.returncode == 0, held.stdout + held.stderr
    assert never.returncode == 2
    assert "cannot happen in PayRex" in never.stderr
    assert "payment_intent.awaiting_capture" in {e["type"] for e in receiver.events()}
    for done in refunds:
        assert done.returncode == 0, done.stdout + done.stderr


def test_trigger_without_a_server_is_one_line_and_status_2(tmp_path: Path) -> None:
    done = run_cli("trigger", "payment_intent.created", "--url", "http://127.0.0.1:9", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "Cannot reach the server" in done.stderr


def test_a_restarted_serve_reuses_its_forwarding_endpoint_and_secret(tmp_path: Path) -> None:
    hook = "http://127.0.0.1:9/hook"
    first = serve("--forward-to", hook, cwd=tmp_path)
    first.stop()
    second = serve("--forward-to", hook, cwd=tmp_path)
    try:
        listed = requests.get(f"{second.url}/v1/webhook_endpoints", headers=HEADERS, timeout=10)
    finally:
        second.stop()
    assert first.secret == second.secret
    assert len(listed.json()["data"]) == 1


def _create(url: str, count: int) -> list[str]:
    with requests.Session() as session:
        return [
            session.post(f"{url}/v1/payment_intents", headers=HEADERS,
                         data={"amount": str(100 + n), "currency": "eur"}, timeout=10).json()["id"]
            for n in range(count)
        ]  # fmt: skip


def _wait_for_all(receiver_events: object, wanted: set[str], timeout: float) -> set[str]:
    deadline = time.monotonic() + timeout
    seen: set[str] = set()
    while time.monotonic() < deadline:
        seen = {e["data"]["object"]["id"] for e in receiver_events()}  # type: ignore[operator]
        if seen >= wanted:
            break
        time.sleep(0.1)
    return seen


def test_a_sigkill_during_deliveries_loses_no_event(tmp_path: Path) -> None:
    """Killed while its deliveries are in flight, none of them acknowledged, the server,
    restarted on the same file, delivers every event again: those it had not sent, those it was
    retrying, and those it was sending when it died (once their lease lapses)."""
    timing = ["--webhook-timeout", "1", "--webhook-backoff", "0.1", "--webhook-attempts", "30"]
    # Refused until the kill: the first server can acknowledge nothing, however fast it sends.
    with receiving(Script(hang=0.2, status=503)) as receiver:
        first = serve("--forward-to", receiver.url, *timing, cwd=tmp_path)
        made = _create(first.url, 40)
        receiver.wait_for(3)  # attempts are in flight, each held 0.2 s by the receiver
        first.kill()
        killed_at = int(time.time())
        receiver.script.answer_with(200)
        # Restarted in a later second than the kill, so signatures tell the two servers apart.
        time.sleep(killed_at + 1 - time.time())
        second = serve("--forward-to", receiver.url, *timing, cwd=tmp_path)
        try:
            seen = _wait_for_all(
                lambda: receiver.events(signed_after=killed_at), set(made), timeout=60
            )
        finally:
            second.stop()
    assert seen >= set(made)
    assert first.secret == second.secret


def test_two_serve_processes_on_one_postgresql_database_deliver_each_event_once(
    postgres_dsn: str, tmp_path: Path
) -> None:
    url = store_url(postgres_dsn)
    with receiving() as receiver:
        one = serve("--db", url, "--forward-to", receiver.url, cwd=tmp_path)
        two = serve("--db", url, "--forward-to", receiver.url, cwd=tmp_path)
        try:
            made = _create(one.url, 30) + _create(two.url, 30)
            seen = _wait_for_all(receiver.events, set(made), timeout=60)
            time.sleep(1.0)  # time for a duplicate, were there to be one
            delivered = [e["id"] for e in receiver.events()]
        finally:
            one.stop()
            two.stop()
    assert one.secret == two.secret  # one endpoint, registered by the first, reused by the second
    assert seen == set(made)
    assert len(delivered) == len(set(delivered)) == 60
