"""Tools for testing code that uses payment intents, and for testing the library itself.

- :class:`PaymentIntentMachine`: a Hypothesis state machine over the service.
- :func:`assert_invariants`: the lifecycle's invariants as an assertion on one intent.
- :mod:`payment_intent.testing.strategies`: Hypothesis strategies for parameters, payment methods
  and whole checkouts.
- :mod:`payment_intent.testing.plugin`: the pytest plugin (fixtures ``payment_intents``,
  ``manual_clock``, ``simulated_processor``), loaded by pytest on its own.
- :mod:`payment_intent.testing.contract`: the store contract suite, ``StoreContract``, that every
  store (ours and yours) proves itself against.

The machine and the strategies need Hypothesis (the ``testing`` extra brings it and pytest). They
are imported on first use, so that the pytest plugin, which lives in this package, loads in a
project without Hypothesis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from payment_intent.testing.invariants import (
    History,
    InvariantViolation,
    assert_invariants,
    assert_money_conserved,
)

if TYPE_CHECKING:
    from payment_intent.testing.contract import StoreContract
    from payment_intent.testing.machine import PaymentIntentMachine

__all__ = [
    "History",
    "InvariantViolation",
    "PaymentIntentMachine",
    "StoreContract",
    "assert_invariants",
    "assert_money_conserved",
]


def __getattr__(name: str) -> Any:
    """Load the machine (Hypothesis) and the contract suite (pytest) only when asked for."""
    if name == "PaymentIntentMachine":
        from payment_intent.testing.machine import PaymentIntentMachine

        return PaymentIntentMachine
    if name == "StoreContract":
        from payment_intent.testing.contract import StoreContract

        return StoreContract
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
