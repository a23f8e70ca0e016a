"""Tools for testing code that uses payment intents, and for testing the library itself.

- :class:`PaymentIntentMachine`: a Hypothesis state machine over the service.
- :func:`assert_invariants`: the lifecycle's invariants as an assertion on one intent.
- :mod:`payment_intent.testing.strategies`: Hypothesis strategies for parameters, payment methods
  and whole checkouts.
- :mod:`payment_intent.testing.plugin`: the pytest plugin (fixtures ``payment_intents``,
  ``manual_clock``, ``simulated_processor``), loaded by pytest on its own.
- :mod:`payment_intent.testing.contract`: the store contract suite, ``StoreContract``, that every
  store (ours and yours) proves itself against.
- :func:`run_concurrently` and :func:`programs` (:mod:`payment_intent.testing.concurrency`):
  workers racing drawn calls at the same intents, every call recorded;
  :func:`assert_linearizable` and :func:`check_linearizable`
  (:mod:`payment_intent.testing.linearizability`): the verdict on such a run, with a smallest
  counterexample.
- :mod:`payment_intent.testing.faults`: a processor and a store that fail where Hypothesis says;
  :class:`FaultMachine` runs the state machine over them and checks the library's guarantees.
- :func:`webhook_handler_test`: a Hypothesis test of a shop's webhook handler, fed real events
  early, twice, stale or forged (:mod:`payment_intent.testing.webhook_harness`).

The machine, the strategies and the runner need Hypothesis (the ``testing`` extra brings it and
pytest). They are imported on first use, so that the pytest plugin, which lives in this package,
loads in a project without Hypothesis.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from payment_intent.testing.invariants import (
    History,
    InvariantViolation,
    assert_invariants,
    assert_money_conserved,
)
from payment_intent.testing.linearizability import (
    NotLinearizable,
    Verdict,
    assert_linearizable,
    check_linearizable,
)

if TYPE_CHECKING:
    from payment_intent.testing.concurrency import Program, programs, run_concurrently
    from payment_intent.testing.contract import StoreContract
    from payment_intent.testing.fault_machine import FaultMachine
    from payment_intent.testing.faults import (
        Faults,
        FaultyProcessor,
        FaultyStore,
        ProcessorFault,
        StoreFault,
    )
    from payment_intent.testing.machine import PaymentIntentMachine
    from payment_intent.testing.webhook_harness import webhook_handler_test

__all__ = [
    "FaultMachine",
    "Faults",
    "FaultyProcessor",
    "FaultyStore",
    "History",
    "InvariantViolation",
    "NotLinearizable",
    "PaymentIntentMachine",
    "ProcessorFault",
    "Program",
    "StoreContract",
    "StoreFault",
    "Verdict",
    "assert_invariants",
    "assert_linearizable",
    "assert_money_conserved",
    "check_linearizable",
    "programs",
    "run_concurrently",
    "webhook_handler_test",
]

#: Names loaded on first use, and their modules: Hypothesis (or pytest) only when asked for.
_LAZY = {
    "PaymentIntentMachine": "payment_intent.testing.machine",
    "StoreContract": "payment_intent.testing.contract",
    "Program": "payment_intent.testing.concurrency",
    "programs": "payment_intent.testing.concurrency",
    "run_concurrently": "payment_intent.testing.concurrency",
    "FaultMachine": "payment_intent.testing.fault_machine",
    "Faults": "payment_intent.testing.faults",
    "FaultyProcessor": "payment_intent.testing.faults",
    "FaultyStore": "payment_intent.testing.faults",
    "ProcessorFault": "payment_intent.testing.faults",
    "StoreFault": "payment_intent.testing.faults",
    "webhook_handler_test": "payment_intent.testing.webhook_harness",
}


def __getattr__(name: str) -> Any:
    """Load the machines, the runner, the faults and the harness (Hypothesis) and the contract
    suite (pytest) only when asked for."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
