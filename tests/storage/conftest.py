"""Fixtures of the storage tests: a real PostgreSQL server for the session (see postgres_server)."""

import pytest

# The contract suite's asserts explain themselves only when pytest rewrites them.
pytest.register_assert_rewrite("payment_intent.testing.contract")

from postgres_server import postgres_dsn, postgres_server  # noqa: E402

__all__ = ["postgres_dsn", "postgres_server"]
