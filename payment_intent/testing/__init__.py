"""Tools for testing code that uses payment intents, and for testing the library itself.

- :class:`PaymentIntentMachine`: a Hypothesis state machine over the service.
- :func:`assert_invariants`: SPEC section 5 as an assertion on one intent.
- :mod:`payment_intent.testing.strategies`: Hypothesis strategies for parameters and methods.
- :mod:`payment_intent.testing.contract`: the store contract suite.

Importing this package needs the ``test`` extra (Hypothesis and pytest).
"""

from payment_intent.testing.invariants import History, InvariantViolation, assert_invariants
from payment_intent.testing.machine import PaymentIntentMachine

__all__ = ["History", "InvariantViolation", "PaymentIntentMachine", "assert_invariants"]
