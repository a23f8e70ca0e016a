"""Our suite is the testing kit's first user: the short names the tests use are the pytest
plugin's fixtures (``payment_intents``, ``manual_clock``, ``payment_intent_store``), so the whole
suite runs over SQLite with ``pytest --payment-intent-store=sqlite``."""

from __future__ import annotations

import pytest

from payment_intent import ManualClock, PaymentIntents
from payment_intent.ports import Store
from payment_intent.testing.plugin import START_TIME, PaymentIntentsFactory

START = START_TIME


@pytest.fixture
def clock(manual_clock: ManualClock) -> ManualClock:
    return manual_clock


@pytest.fixture
def store(payment_intent_store: Store) -> Store:
    return payment_intent_store


@pytest.fixture
def svc(payment_intents: PaymentIntents) -> PaymentIntents:
    """A CasaPay-profile service over ``store`` and ``clock``."""
    return payment_intents


@pytest.fixture
def payrex(payment_intents_factory: PaymentIntentsFactory, clock: ManualClock) -> PaymentIntents:
    """A PayRex-profile service over a store of its own, on the same clock."""
    return payment_intents_factory("payrex", clock=clock)
