"""A scripted checkout that walks through every transition of the lifecycle and prints each one."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from payment_intent.adapters.clocks import ManualClock
from payment_intent.adapters.memory import InMemoryStore
from payment_intent.adapters.simulated import SimulatedProcessor
from payment_intent.domain.errors import CardError
from payment_intent.domain.model import PaymentIntent
from payment_intent.ports import Store
from payment_intent.service import PaymentIntents

DEMO_START = 1_706_140_800  # 2024-01-25T00:00:00Z, the seed documents' timestamp


def run_demo(out: TextIO = sys.stdout, store: Store | None = None) -> PaymentIntents:
    """Run the scripted checkout over ``store`` (in memory by default) and print what happens."""
    clock = ManualClock(DEMO_START)
    svc = PaymentIntents(
        store=store or InMemoryStore(), clock=clock, processor=SimulatedProcessor()
    )

    def step(
        label: str, before: PaymentIntent | None, action: Callable[[], PaymentIntent]
    ) -> PaymentIntent:
        try:
            after = action()
            note = ""
        except CardError as declined:
            assert declined.payment_intent is not None
            after = declined.payment_intent
            note = f"  [card_error: {declined.code}/{declined.decline_code}]"
        start = before.status.value if before is not None else "(none)"
        amounts = f"capturable={after.amount_capturable} received={after.amount_received}"
        print(f"  {label:<38} {start:>23} -> {after.status.value:<23} {amounts}{note}", file=out)
        return after

    print(f"Rent checkout, manual capture (clock at {clock.now()}):", file=out)
    pi = step(
        "create 1200.00 EUR, capture manual",
        None,
        lambda: svc.create(
            amount=120_000,
            currency="eur",
            customer="cus_123456789",
            capture_method="manual",
            description="Rent payment - February 2025",
            metadata={"property_id": "prop_456"},
        ),
    )
    pi = step(
        "update payment_method (3-D Secure card)",
        pi,
        lambda: svc.update(pi.id, payment_method="pm_card_threeDSecure2Required"),
    )
    pi = step("confirm", pi, lambda: svc.confirm(pi.id, return_url="https://example.com/done"))
    assert pi.next_action is not None
    print(f"  {'':<38} next_action: redirect to {pi.next_action.redirect_url}", file=out)
    pi = step("customer completes 3-D Secure", pi, lambda: svc.complete_action(pi.id))
    print(f"  {'':<38} hold until capture_before_at={pi.capture_before_at}", file=out)
    pi = step(
        "capture 1000.00 of 1200.00", pi, lambda: svc.capture(pi.id, amount_to_capture=100_000)
    )
    released = pi.charges[-1].amount_refunded
    print(f"  {'':<38} released to the customer: {released}", file=out)

    print("A declined card, then a good one:", file=out)
    pi = step(
        "create with a declining card, confirm",
        None,
        lambda: svc.create(
            amount=5_000, currency="eur", payment_method="pm_card_visa_chargeDeclined", confirm=True
        ),
    )
    pi = step(
        "confirm with pm_card_visa", pi, lambda: svc.confirm(pi.id, payment_method="pm_card_visa")
    )

    print("A failed authentication:", file=out)
    pi = step(
        "create and confirm (3-D Secure card)",
        None,
        lambda: svc.create(
            amount=5_000,
            currency="eur",
            payment_method="pm_card_authenticationRequired",
            confirm=True,
        ),
    )
    pi = step(
        "customer fails authentication", pi, lambda: svc.complete_action(pi.id, succeed=False)
    )

    print("Open banking (asynchronous):", file=out)
    pi = step(
        "create and confirm with pm_open_banking",
        None,
        lambda: svc.create(
            amount=80_000,
            currency="eur",
            payment_method_types=["open_banking"],
            payment_method="pm_open_banking",
            confirm=True,
        ),
    )
    pi = step("the bank settles", pi, lambda: svc.settle(pi.id, succeed=True))

    print("Cancellation and an expired hold:", file=out)
    pi = step("create", None, lambda: svc.create(amount=2_500, currency="gbp"))
    pi = step(
        "cancel (requested_by_customer)",
        pi,
        lambda: svc.cancel(pi.id, cancellation_reason="requested_by_customer"),
    )
    hold = step(
        "hold 300.00 EUR",
        None,
        lambda: svc.create(
            amount=30_000,
            currency="eur",
            capture_method="manual",
            payment_method="pm_card_visa",
            confirm=True,
        ),
    )
    clock.advance(7 * 24 * 3600)
    expired = svc.expire_authorizations()
    print(f"  7 days later the sweep expires {len(expired)} hold(s):", file=out)
    step("hold lapsed (reason automatic)", hold, lambda: svc.retrieve(hold.id))

    events = svc.events(limit=1000)
    print(f"{len(events)} events, in commit order:", file=out)
    for event in events:
        print(f"  {event.created}  {event.type:<42} {event.intent_id}", file=out)
    return svc


def main() -> None:
    run_demo()
