"""The in-memory store passes the store contract suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from payment_intent.adapters.memory import InMemoryStore
from payment_intent.errors import InvalidRequestError
from payment_intent.testing.contract import StoreContract


class TestInMemoryStore(StoreContract):
    def make_store(self, tmp_path: Path) -> InMemoryStore:
        return InMemoryStore()


class TestColdInMemoryStore(StoreContract):
    """Every intent but the last one written is packed: the contract holds for the packed form."""

    def make_store(self, tmp_path: Path) -> InMemoryStore:
        return InMemoryStore(hot_intents=1)


@pytest.mark.parametrize("hot_intents", [0, -1, True, 1.5, "10"])
def test_a_bad_hot_set_size_is_refused_naming_it(hot_intents: object) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        InMemoryStore(hot_intents=hot_intents)  # type: ignore[arg-type]
    assert refused.value.param == "hot_intents"
