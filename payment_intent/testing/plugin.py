"""The pytest plugin: fixtures for testing checkout code against a real ``PaymentIntents`` service.

pytest loads it on its own once ``payment_intent`` is installed (the ``pytest11`` entry point), and
it does nothing until a test asks for one of its fixtures:

- ``payment_intents``: a :class:`~payment_intent.PaymentIntents` over a fresh store, the
  ``manual_clock`` and the ``simulated_processor``, under ``payment_intent_profile``;
- ``manual_clock``: a :class:`~payment_intent.ManualClock` standing at :data:`START_TIME`;
- ``simulated_processor``: the :class:`~payment_intent.SimulatedProcessor`, whose test payment
  methods (``pm_card_visa``, ``pm_card_visa_chargeDeclined``, ...) decide each outcome;
- ``payment_intent_profile``: ``"casapay"``; override it (or parametrize it) for PayRex;
- ``payment_intent_store``: the store behind ``payment_intents``, in memory unless told otherwise;
- ``payment_intents_factory``: makes a fresh service per call, for Hypothesis tests whose every
  example needs an empty store.

The store is chosen per run with ``--payment-intent-store=memory|sqlite|all`` (``all`` runs each
test once per store) or per test with ``@pytest.mark.payment_intent_stores("memory", "sqlite")``.
The SQLite store is imported only when a test asks for it.

This module imports neither Hypothesis nor anything that does, so it loads in projects without it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from payment_intent.adapters.clocks import ManualClock
from payment_intent.adapters.simulated import SimulatedProcessor
from payment_intent.domain.profiles import Profile
from payment_intent.ports import Clock, Processor, Store
from payment_intent.service import PaymentIntents
from payment_intent.stores import store_from_url

#: Where ``manual_clock`` starts: 2024-01-25 00:00:00 UTC, in whole seconds.
START_TIME = 1_706_140_800
#: The stores the plugin can put behind ``payment_intents``.
STORE_KINDS = ("memory", "sqlite")

_OPTION = "--payment-intent-store"
_MARKER = "payment_intent_stores"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("payment_intent", "payment_intent testing kit")
    group.addoption(
        _OPTION,
        dest="payment_intent_store",
        choices=(*STORE_KINDS, "all"),
        default="memory",
        help="store behind the payment_intents fixture: memory (default), sqlite, or all "
        "(each test once per store)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(*kinds): run the test once per store kind behind the payment_intents "
        f"fixture ({', '.join(STORE_KINDS)}; no arguments means all of them)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "payment_intent_store_kind" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker(_MARKER)
    if marker is not None:
        kinds = tuple(marker.args) or STORE_KINDS
        unknown = [kind for kind in kinds if kind not in STORE_KINDS]
        if unknown:
            pytest.fail(
                f"@pytest.mark.{_MARKER}: unknown store kind(s) {unknown}; "
                f"expected some of {list(STORE_KINDS)}",
                pytrace=False,
            )
    elif metafunc.config.getoption("payment_intent_store") == "all":
        kinds = STORE_KINDS
    else:
        return  # one store for the whole run: the fixture reads the option itself
    metafunc.parametrize("payment_intent_store_kind", kinds, indirect=True, ids=list(kinds))


def open_store(kind: str, directory: Callable[[], Path]) -> Store:
    """A new, empty store of ``kind``: ``"memory"``, or ``"sqlite"`` in a file in ``directory()``.

    ``directory`` is called only when the store keeps files.
    """
    # Chosen through the one store selector, as the command line chooses its store.
    if kind == "memory":
        return store_from_url("memory://")
    if kind == "sqlite":
        return store_from_url(f"sqlite:///{directory() / 'payment_intents.sqlite3'}")
    raise pytest.UsageError(f"unknown store kind {kind!r}; expected one of {list(STORE_KINDS)}")


@pytest.fixture
def payment_intent_store_kind(request: pytest.FixtureRequest) -> str:
    """Which store ``payment_intents`` runs over: from the marker, else from the option."""
    kind: str = getattr(request, "param", None) or request.config.getoption("payment_intent_store")
    return kind


@pytest.fixture
def manual_clock() -> ManualClock:
    """A clock that stands at :data:`START_TIME` until the test moves it."""
    return ManualClock(START_TIME)


@pytest.fixture
def simulated_processor() -> SimulatedProcessor:
    """The processor that decides each attempt from its test payment method id."""
    return SimulatedProcessor()


@pytest.fixture
def payment_intent_profile() -> str | Profile:
    """The profile of ``payment_intents``: CasaPay. Override or parametrize it for PayRex."""
    return "casapay"


@pytest.fixture
def payment_intent_store(
    payment_intent_store_kind: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """An empty store of the selected kind, closed after the test."""
    store = open_store(
        payment_intent_store_kind, lambda: tmp_path_factory.mktemp("payment_intents")
    )
    yield store
    store.close()


@pytest.fixture
def payment_intents(
    payment_intent_store: Store,
    manual_clock: ManualClock,
    simulated_processor: SimulatedProcessor,
    payment_intent_profile: str | Profile,
) -> PaymentIntents:
    """The service, over ``payment_intent_store``, ``manual_clock`` and ``simulated_processor``."""
    return PaymentIntents(
        store=payment_intent_store,
        clock=manual_clock,
        processor=simulated_processor,
        profile=payment_intent_profile,
    )


class PaymentIntentsFactory:
    """Makes services over fresh stores of one kind, and closes every store it made at the end."""

    def __init__(self, kind: str, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.kind = kind
        self._tmp_path_factory = tmp_path_factory
        self._stores: list[Store] = []
        self._counter = itertools.count(1)

    def __call__(
        self,
        profile: str | Profile = "casapay",
        *,
        clock: Clock | None = None,
        processor: Processor | None = None,
        **options: Any,
    ) -> PaymentIntents:
        """A service over a new, empty store; a new :class:`ManualClock` unless ``clock`` given.

        ``options`` go to :class:`~payment_intent.PaymentIntents` (``livemode``, ``max_retries``).
        """
        store = open_store(
            self.kind,
            lambda: self._tmp_path_factory.mktemp(f"payment_intents_{next(self._counter)}"),
        )
        self._stores.append(store)
        return PaymentIntents(
            store=store,
            clock=clock if clock is not None else ManualClock(START_TIME),
            processor=processor if processor is not None else SimulatedProcessor(),
            profile=profile,
            **options,
        )

    def close(self) -> None:
        for store in self._stores:
            store.close()
        self._stores.clear()


@pytest.fixture
def payment_intents_factory(
    payment_intent_store_kind: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., PaymentIntents]]:
    """``factory(profile="casapay", *, clock=None, processor=None)``: a fresh service per call.

    For ``@given`` tests, where one test function runs many examples that each need an empty
    store (suppress Hypothesis's ``function_scoped_fixture`` health check: the factory is the
    per-example reset that check asks for).
    """
    factory = PaymentIntentsFactory(payment_intent_store_kind, tmp_path_factory)
    yield factory
    factory.close()
