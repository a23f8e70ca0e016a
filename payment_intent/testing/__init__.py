"""Test kits for users of payment_intent and for its own tests (the store contract suite lives in
:mod:`payment_intent.testing.contract`)."""
