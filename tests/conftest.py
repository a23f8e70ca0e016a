"""Shared fixtures: services over an in-memory store, a manual clock and the simulated processor."""

from __future__ import annotations

import pytest

from payment_intent import InMemoryStore, ManualClock, PaymentIntents, SimulatedProcessor

START = 1_706_140_800


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def svc(store: InMemoryStore, clock: ManualClock) -> PaymentIntents:
    """A CasaPay-profile service."""
    return PaymentIntents(store=store, clock=clock, processor=SimulatedProcessor())


@pytest.fixture
def payrex(clock: ManualClock) -> PaymentIntents:
    """A PayRex-profile service."""
    return PaymentIntents(store=InMemoryStore(), clock=clock, profile="payrex")
