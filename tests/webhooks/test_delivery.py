"""Committed events reach every endpoint that wants them, signed as the providers sign, at least
once, retried on the schedule, off the request path; the official SDKs verify every delivery."""

from __future__ import annotations

import itertools
import statistics
import time
from pathlib import Path

import payrex
import pytest
import stripe

from payment_intent import InMemoryStore, ManualClock
from payment_intent.webhooks import DeliveryWorker, RetrySchedule, Source
from tests.webhooks.provider import FAST, Provider, make_store, providing
from tests.webhooks.receiver import Received, Script, receiving


def verified_by_stripe(received: Received, secret: str) -> stripe.Event:
    return stripe.Webhook.construct_event(
        received.body, received.headers["stripe-signature"], secret
    )


def verified_by_payrex(received: Received, secret: str) -> object:
    client = payrex.Client("sk_test_4eC39HqLyjWDarjtT1zdp7dc")
    return client.webhooks.parse_event(
        received.body.decode(), received.headers["payrex-signature"], secret
    )


# -- the SDKs verify what arrives ----------------------------------------------------------------


def test_a_manual_capture_checkouts_events_reach_a_casapay_endpoint_verified_by_stripe() -> None:
    with receiving() as receiver, providing("casapay", InMemoryStore()) as provider:
        secret = provider.add_endpoint(receiver.url)["secret"]
        intent = provider.checkout(capture_method="manual")
        provider.post(f"/payment_intents/{intent['id']}/capture", amount_to_capture="4000")
        received = receiver.wait_for(3)
        events = [verified_by_stripe(r, secret) for r in received]
    assert sorted(e.type for e in events) == [
        "payment_intent.amount_capturable_updated",
        "payment_intent.created",
        "payment_intent.succeeded",
    ]
    succeeded = next(e for e in events if e.type == "payment_intent.succeeded")
    assert isinstance(succeeded.data.object, stripe.PaymentIntent)
    assert succeeded.data.object.id == intent["id"]
    assert succeeded.data.object.amount_received == 4000
    assert succeeded.api_version == "2022-08-01"
    assert succeeded.livemode is False
    assert all(r.headers["content-type"].startswith("application/json") for r in received)


def test_every_event_of_a_checkout_reaches_a_payrex_webhook_verified_by_payrex_python() -> None:
    with receiving() as receiver, providing("payrex", InMemoryStore()) as provider:
        secret = provider.add_endpoint(receiver.url)["secret_key"]
        intent = provider.checkout(capture_method="manual")
        received = receiver.wait_for(2)
        events = [verified_by_payrex(r, secret) for r in received]
    assert sorted(e.type for e in events) == [  # type: ignore[attr-defined]
        "payment_intent.awaiting_capture",
        "payment_intent.created",
    ]
    held = next(e for e in events if e.type == "payment_intent.awaiting_capture")  # type: ignore[attr-defined]
    assert held.data["id"] == intent["id"]
    assert held.data["status"] == "awaiting_capture"
    assert all(r.headers["payrex-signature"].endswith(",li=") for r in received)


@pytest.mark.parametrize("dialect", ["casapay", "payrex"])
def test_deliveries_from_a_sqlite_store_are_verified_by_the_sdks(
    dialect: str, tmp_path: Path
) -> None:
    with receiving() as receiver, providing(dialect, make_store("sqlite", tmp_path)) as provider:
        endpoint = provider.add_endpoint(receiver.url)
        made = [provider.create(amount)["id"] for amount in (5000, 6000, 7000)]
        received = receiver.wait_for(3)
    secret = endpoint["secret"] if dialect == "casapay" else endpoint["secret_key"]
    verify = verified_by_stripe if dialect == "casapay" else verified_by_payrex
    ids = set()
    for request in received:
        event = verify(request, secret)
        data = event.data.object if dialect == "casapay" else event.data  # type: ignore[attr-defined]
        ids.add(data["id"])
    assert ids == set(made)


def test_a_tampered_body_or_a_foreign_secret_fails_the_sdks_check() -> None:
    with receiving() as receiver, providing("casapay", InMemoryStore()) as provider:
        secret = provider.add_endpoint(receiver.url)["secret"]
        provider.create()
        (request,) = receiver.wait_for(1)
    header = request.headers["stripe-signature"]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(request.body.replace(b"5000", b"1"), header, secret)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(request.body, header, "whsec_someone_else")


def test_the_signature_timestamp_is_wall_clock_time_even_on_a_manual_clock() -> None:
    """A server whose domain clock stands in 2024 still signs with the real time, so the SDK's
    five-minute tolerance accepts its webhooks."""
    with (
        receiving() as receiver,
        providing("casapay", InMemoryStore(), clock=ManualClock(1706140800)) as provider,
    ):
        secret = provider.add_endpoint(receiver.url)["secret"]
        provider.create()
        (request,) = receiver.wait_for(1)
    signed_at = int(request.headers["stripe-signature"].split(",")[0][2:])
    assert abs(signed_at - time.time()) < 60
    assert verified_by_stripe(request, secret).created == 1706140800


# -- retries -------------------------------------------------------------------------------------


@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
def test_a_receiver_that_fails_the_first_n_attempts_gets_the_event_on_attempt_n_plus_one(
    store_kind: str, tmp_path: Path
) -> None:
    failures = 3
    with (
        receiving(Script(fail_first=failures)) as receiver,
        providing("casapay", make_store(store_kind, tmp_path)) as provider,
    ):
        endpoint = provider.add_endpoint(receiver.url)
        provider.create()
        received = receiver.wait_for(failures + 1)
        time.sleep(0.2)  # the last attempt's record
        attempts = provider.hooks.attempts(endpoint["id"])
        deliveries = provider.hooks.deliveries(endpoint["id"])
    assert [a.number for a in reversed(attempts)] == [1, 2, 3, 4]
    assert [a.outcome for a in reversed(attempts)] == ["retrying"] * 3 + ["succeeded"]
    assert [a.status_code for a in reversed(attempts)] == [500, 500, 500, 200]
    retrying = [a for a in attempts if a.outcome == "retrying"]
    assert all(a.next_retry_at is not None and a.next_retry_at > a.started_at for a in retrying)
    assert all(a.duration >= 0 for a in attempts)
    # The same bytes on every attempt, each signed afresh.
    assert len({r.body for r in received}) == 1
    for request in received:
        verified_by_stripe(request, endpoint["secret"])
    assert [(d.state, d.attempts) for d in deliveries] == [("delivered", 4)]
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(received)]
    assert gaps[1] > gaps[0] * 1.3  # backoff: each wait longer than the one before


def test_after_the_last_attempt_the_delivery_is_recorded_as_failed() -> None:
    schedule = RetrySchedule(max_attempts=3, first_delay=0.02, factor=1.0, timeout=1.0)
    with (
        receiving(Script(fail_first=100, fail_status=503)) as receiver,
        providing("casapay", InMemoryStore(), schedule=schedule) as provider,
    ):
        endpoint = provider.add_endpoint(receiver.url)
        event_id = None
        provider.create()
        receiver.wait_for(3)
        time.sleep(0.3)
        assert len(receiver.received) == 3  # bounded: no fourth attempt
        (delivery,) = provider.hooks.deliveries(endpoint["id"])
        event_id = delivery.event_id
        attempts = provider.hooks.attempts(endpoint["id"])
        (event,) = provider.events()
    assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == ("failed", 3, None)
    assert attempts[0].outcome == "failed"
    assert attempts[0].next_retry_at is None
    assert attempts[0].error == "the receiver answered 503"
    assert event["id"] == event_id
    assert event["pending_webhooks"] == 1


def test_an_unreachable_receiver_is_retried_like_a_failing_one() -> None:
    with receiving() as closed:
        dead_url = closed.url
    with providing("casapay", InMemoryStore()) as provider:
        endpoint = provider.add_endpoint(dead_url)
        provider.create()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            attempts = provider.hooks.attempts(endpoint["id"])
            if attempts and attempts[0].outcome == "failed":
                break
            time.sleep(0.05)
    assert [a.outcome for a in reversed(attempts)] == ["retrying"] * 3 + ["failed"]
    assert all(a.status_code is None and a.error for a in attempts)


def test_attempts_are_readable_over_http_as_a_test_helper() -> None:
    with (
        receiving(Script(fail_first=1)) as receiver,
        providing("payrex", InMemoryStore()) as provider,
    ):
        webhook = provider.add_endpoint(receiver.url)
        provider.create()
        receiver.wait_for(2)
        time.sleep(0.2)
        response = provider.call("GET", f"/test_helpers/webhooks/{webhook['id']}/attempts")
    assert response.status_code == 200
    data = response.json()["data"]
    assert [(a["attempt"], a["status_code"], a["outcome"]) for a in data] == [
        (2, 200, "succeeded"),
        (1, 500, "retrying"),
    ]
    assert data[1]["next_retry_at"] > data[1]["started_at"]
    assert data[0]["duration_ms"] >= 0


# -- off the request path ------------------------------------------------------------------------


def _latencies(provider: Provider, count: int) -> list[float]:
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        provider.create()
        timings.append(time.perf_counter() - started)
    return timings


def test_a_receiver_that_never_answers_does_not_slow_api_requests() -> None:
    schedule = RetrySchedule(max_attempts=3, first_delay=0.01, factor=1.0, timeout=0.5)
    with (
        receiving(Script(hang=5.0)) as hanging,
        providing("casapay", InMemoryStore(), start_worker=False) as provider,
        # quiet=0: deliver each event at once, beside the requests that follow it.
        DeliveryWorker([Source(provider.store, provider.hooks, schedule)], quiet=0),
    ):
        baseline = _latencies(provider, 40)
        provider.add_endpoint(hanging.url)
        hanging_latencies = _latencies(provider, 40)
        assert len(hanging.received) >= 1  # deliveries were under way while we measured
    # Were deliveries on the request path, every request would wait for the 0.5 s timeout.
    assert max(hanging_latencies) < 0.25
    assert statistics.median(hanging_latencies) < statistics.median(baseline) * 2 + 0.002


# -- which events, and how they look -------------------------------------------------------------


def test_an_endpoint_gets_only_the_events_it_enabled_and_only_those_after_its_creation() -> None:
    with (
        receiving() as everything,
        receiving() as only_success,
        providing("casapay", InMemoryStore()) as provider,
    ):
        provider.create()  # before any endpoint: delivered to none
        provider.add_endpoint(everything.url)
        provider.add_endpoint(only_success.url, ["payment_intent.succeeded"])
        intent = provider.checkout()
        everything.wait_for(2)
        only_success.wait_for(1)
        time.sleep(0.2)
    assert sorted(e["type"] for e in everything.events()) == [
        "payment_intent.created",
        "payment_intent.succeeded",
    ]
    assert [e["type"] for e in only_success.events()] == ["payment_intent.succeeded"]
    assert only_success.events()[0]["data"]["object"]["id"] == intent["id"]


def test_a_casapay_event_is_rendered_in_its_endpoints_api_version() -> None:
    with receiving() as old, receiving() as new, providing("casapay", InMemoryStore()) as provider:
        provider.add_endpoint(old.url)
        provider.add_endpoint(new.url, api_version="2023-10-16")
        provider.create()
        (before,) = old.wait_for(1)
        (after,) = new.wait_for(1)
    assert before.event["api_version"] == "2022-08-01"
    assert "charges" in before.event["data"]["object"]
    assert after.event["api_version"] == "2023-10-16"
    assert "charges" not in after.event["data"]["object"]
    assert after.event["data"]["object"]["latest_charge"] is None
    assert list(after.event) == [
        "id", "object", "api_version", "created", "data", "livemode", "pending_webhooks",
        "request", "type",
    ]  # fmt: skip


def test_pending_webhooks_counts_the_endpoints_that_have_not_acknowledged() -> None:
    schedule = RetrySchedule(max_attempts=50, first_delay=0.05, factor=1.0, timeout=1.0)
    with (
        receiving() as happy,
        receiving(Script(fail_first=1000)) as failing,
        providing("casapay", InMemoryStore(), schedule=schedule) as provider,
    ):
        provider.add_endpoint(happy.url)
        provider.add_endpoint(failing.url)
        provider.create()
        (first,) = happy.wait_for(1)
        failing.wait_for(2)
        (event,) = provider.events()
    assert first.event["pending_webhooks"] == 2  # as rendered: neither had acknowledged
    assert event["pending_webhooks"] == 1  # now: the failing one only


def test_a_disabled_endpoint_skips_the_events_of_its_pause() -> None:
    with receiving() as receiver, providing("casapay", InMemoryStore()) as provider:
        endpoint = provider.add_endpoint(receiver.url)
        provider.post(f"/webhook_endpoints/{endpoint['id']}", disabled="true")
        provider.create()
        time.sleep(0.2)
        provider.post(f"/webhook_endpoints/{endpoint['id']}", disabled="false")
        later = provider.create()
        (request,) = receiver.wait_for(1)
        time.sleep(0.2)
    assert len(receiver.received) == 1
    assert request.event["data"]["object"]["id"] == later["id"]


def test_a_fast_schedule_is_the_default_in_test_mode_and_bounded() -> None:
    test_mode, live = RetrySchedule.for_test_mode(), RetrySchedule.for_live_mode()
    waits = [test_mode.delay_after(n) for n in range(1, test_mode.max_attempts)]
    assert sum(w for w in waits if w is not None) < 60
    assert test_mode.delay_after(test_mode.max_attempts) is None
    assert live.delay_after(1) == 60.0
    assert live.delay_after(live.max_attempts) is None
    assert FAST.lease > FAST.timeout


# -- deliveries yield to a burst of requests -------------------------------------------------------


def _burst(quiet: float, max_hold: float, seconds: float) -> tuple[float, float]:
    """Create intents back to back for ``seconds`` under a worker with ``quiet`` and
    ``max_hold``: when the first delivery arrived, and when the last intent was created."""
    with (
        receiving() as receiver,
        providing("casapay", InMemoryStore(), start_worker=False) as provider,
    ):
        provider.add_endpoint(receiver.url)
        source = Source(provider.store, provider.hooks, FAST)
        with DeliveryWorker([source], poll_interval=0.02, quiet=quiet, max_hold=max_hold):
            until = time.monotonic() + seconds
            while time.monotonic() < until:
                provider.create()
                last = time.time()
                time.sleep(0.01)
            return receiver.wait_for(1)[0].at, last


def test_new_events_wait_until_the_feed_has_been_still_for_quiet_seconds() -> None:
    first, last = _burst(quiet=0.5, max_hold=30, seconds=1.0)
    assert first >= last, "an event was delivered while requests kept coming"


def test_a_feed_that_never_pauses_is_delivered_after_max_hold_seconds() -> None:
    first, last = _burst(quiet=5, max_hold=0.2, seconds=2.0)
    assert first < last, "nothing was delivered while requests kept coming"


def test_the_pause_and_the_hold_must_not_be_negative() -> None:
    for quiet, max_hold in ((-0.1, 1.0), (0.02, -1.0)):
        with pytest.raises(ValueError, match="quiet and max_hold"):
            DeliveryWorker([], quiet=quiet, max_hold=max_hold)
