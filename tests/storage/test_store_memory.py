"""The in-memory store passes the store contract suite."""

from __future__ import annotations

from pathlib import Path

from payment_intent.adapters.memory import InMemoryStore
from payment_intent.testing.contract import StoreContract


class TestInMemoryStore(StoreContract):
    def make_store(self, tmp_path: Path) -> InMemoryStore:
        return InMemoryStore()
