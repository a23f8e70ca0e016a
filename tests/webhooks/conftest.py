"""Fixtures of the webhook tests: the throwaway PostgreSQL cluster of the storage tests (see
tests/storage/postgres_server.py), loopback receivers, and servers with a delivery worker."""

import sys
from pathlib import Path

import pytest

pytest.register_assert_rewrite("contract")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "storage"))

from postgres_server import postgres_dsn, postgres_server  # noqa: E402

__all__ = ["postgres_dsn", "postgres_server"]
