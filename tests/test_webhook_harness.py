"""The webhook-handler harness finds a handler that fulfils an order twice, shrinks the failure to
the shortest delivery schedule, and passes the same handler once it fulfils each order once."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from hypothesis import Phase, settings

from payment_intent.testing.webhook_harness import (
    Checkout,
    DeliveryScheduleFailure,
    webhook_handler_test,
)
from payment_intent.webhooks import SignatureVerificationError, sign, verify
from tests.test_docs import REPEATABLE as DOCS_REPEATABLE
from tests.test_docs import ROOT, python_blocks, run_pytest_on

SECRET = "whsec_harness_test"
FULFILMENT = "test_fulfilment.py"
REPEATABLE = settings(
    database=None,
    derandomize=True,
    deadline=None,
    phases=[Phase.generate, Phase.shrink],
)


class Fulfilment:
    """A shop's handler: verifies the signature, fulfils the order of a succeeded payment."""

    once = True  # the fixed handler; the planted bug forgets what it already fulfilled

    def __init__(self) -> None:
        self.fulfilled: list[str] = []

    def __call__(self, body: bytes, headers: Mapping[str, str]) -> int:
        try:
            verify(body, headers.get("Stripe-Signature"), SECRET)
        except SignatureVerificationError:
            return 400
        event = json.loads(body)
        if event["type"] == "payment_intent.succeeded":
            order = event["data"]["object"]["metadata"]["order_id"]
            if not (self.once and order in self.fulfilled):
                self.fulfilled.append(order)
        return 200


class FulfilsTwice(Fulfilment):
    once = False


class Unverified(Fulfilment):
    """Planted bug: it trusts whatever arrives, signed or not."""

    def __call__(self, body: bytes, headers: Mapping[str, str]) -> int:
        return super().__call__(body, {"Stripe-Signature": _resigned(body)})


def _resigned(body: bytes) -> str:
    return sign(body, SECRET)


def never_twice_nor_unpaid(handler: Fulfilment, checkouts: list[Checkout]) -> None:
    paid = {c.order_id for c in checkouts if c.paid}
    assert len(handler.fulfilled) == len(set(handler.fulfilled)), "an order fulfilled twice"
    assert set(handler.fulfilled) <= paid, "an order fulfilled without its payment"


def every_paid_order(handler: Fulfilment, checkouts: list[Checkout]) -> None:
    assert set(handler.fulfilled) == {c.order_id for c in checkouts if c.paid}


def harness(handler: type[Fulfilment], examples: int) -> None:
    test = webhook_handler_test(
        handler,
        secret=SECRET,
        always=never_twice_nor_unpaid,
        eventually=every_paid_order,
        settings=settings(REPEATABLE, max_examples=examples),
    )
    test()


def test_the_fixed_handler_passes() -> None:
    harness(Fulfilment, 150)


def test_a_handler_that_fulfils_a_duplicate_again_is_caught_on_two_deliveries() -> None:
    with pytest.raises(DeliveryScheduleFailure) as failed:
        harness(FulfilsTwice, 150)
    shown = [str(d) for d in failed.value.deliveries]
    print("\n".join(shown))
    assert "fulfilled twice" in str(failed.value)
    assert shown == [  # one early copy of the payment's event, then the provider's delivery
        "payment_intent.succeeded (order-0, valid signature) -> 200",
        "payment_intent.created (order-0, valid signature) -> 200",
        "payment_intent.succeeded (order-0, valid signature) -> 200",
    ]


def test_a_handler_that_skips_the_signature_is_caught_by_one_forged_event() -> None:
    with pytest.raises(DeliveryScheduleFailure) as failed:
        harness(Unverified, 150)
    shown = [str(d) for d in failed.value.deliveries]
    print("\n".join(shown))
    assert "without its payment" in str(failed.value)
    assert shown == ["payment_intent.succeeded (order-0, forged signature) -> 200"]


def test_a_handler_behind_a_url_on_loopback_is_driven_over_http() -> None:
    handler = FulfilsTwice()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        status = handler(body, {"Stripe-Signature": environ.get("HTTP_STRIPE_SIGNATURE", "")})
        start_response(f"{status} -", [("Content-Length", "0")])
        return [b""]

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def fresh_endpoint() -> str:
        handler.fulfilled.clear()
        return f"http://127.0.0.1:{server.server_port}/webhooks"

    test = webhook_handler_test(
        fresh_endpoint,
        secret=SECRET,
        always=lambda url, checkouts: never_twice_nor_unpaid(handler, checkouts),
        settings=settings(REPEATABLE, max_examples=100),
    )
    try:
        with pytest.raises(DeliveryScheduleFailure) as failed:
            test()
    finally:
        server.shutdown()
    assert [d.status for d in failed.value.deliveries] == [200, 200, 200]


def test_the_page_s_handler_example_finds_the_double_shipment_it_describes(
    tmp_path: Path,
) -> None:
    """The docs' fulfilment test is not one that cannot fail: without its duplicate check, it
    fails with the shrunk schedule the page shows."""
    page = (ROOT / "docs" / "testing.md").read_text()
    [block] = [b for b in python_blocks(ROOT / "docs" / "testing.md") if b.title == FULFILMENT]
    planted = {"if order not in self.shipped:  # a duplicate ships nothing": "if True:"}
    output = run_pytest_on(block, tmp_path, replace=planted, conftest=DOCS_REPEATABLE)
    assert "1 failed" in output, output
    shown = re.search(r"shrunk to one checkout .*?```text\n(?P<lines>.*?)```", page, re.DOTALL)
    assert shown is not None
    for line in shown["lines"].splitlines():
        assert line.strip() in output, f"the page shows {line!r}; the run printed:\n{output}"
