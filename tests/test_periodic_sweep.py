"""A long-running server writes lapsed holds out by itself: nobody has to call the sweep."""

from __future__ import annotations

import time

from payment_intent import InMemoryStore, ManualClock, PaymentIntents
from payment_intent.service.sweep import PeriodicSweep

START = 1_706_140_800


def test_the_periodic_sweep_stores_a_lapsed_hold_and_emits_its_event() -> None:
    clock = ManualClock(START)
    svc = PaymentIntents(InMemoryStore(), clock)
    hold = svc.create(
        amount=5000, currency="eur", capture_method="manual", payment_method="pm_card_visa",
        confirm=True,
    )  # fmt: skip
    sweeper = PeriodicSweep([svc], interval=0.01).start()
    try:
        clock.advance(7 * 24 * 3600)
        deadline = time.monotonic() + 10
        while svc.store.load(hold.id).status != "canceled" and time.monotonic() < deadline:  # type: ignore[union-attr]
            time.sleep(0.01)
    finally:
        sweeper.stop()
    stored = svc.store.load(hold.id)
    assert stored is not None
    assert stored.status == "canceled"
    assert svc.events(limit=10).data[-1].type == "payment_intent.canceled"
