"""The in-memory store passes the store contract suite, and keeps what a checkout shares once."""

from __future__ import annotations

from pathlib import Path

from payment_intent import ManualClock, PaymentIntents
from payment_intent.adapters.memory import InMemoryStore
from payment_intent.domain.model import Event, PaymentIntent
from payment_intent.ports import Commit
from payment_intent.testing.contract import StoreContract


class TestInMemoryStore(StoreContract):
    def make_store(self, tmp_path: Path) -> InMemoryStore:
        return InMemoryStore()


class _Recording(InMemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.commits: list[Commit] = []

    def commit(self, commit: Commit) -> None:
        self.commits.append(commit)
        super().commit(commit)


def test_the_versions_and_events_of_a_checkout_share_one_set_of_field_names() -> None:
    """pydantic keeps, in every instance, the set of the names of the fields set in it: a set of
    every field's name, larger than the instance's values, held by each version and each event the
    store keeps unless they share it."""
    store = _Recording()
    svc = PaymentIntents(store=store, clock=ManualClock(1_706_140_800))
    intent = svc.create(amount=5000, currency="eur", capture_method="manual")
    svc.confirm(intent.id, payment_method="pm_card_visa")
    svc.capture(intent.id, amount_to_capture=4000)
    versions = [commit.intent for commit in store.commits if commit.intent is not None]
    events = [event for commit in store.commits for event in commit.events]
    assert [version.version for version in versions] == [1, 2, 3]
    assert len(events) == 3
    assert {id(version.model_fields_set) for version in versions} == {
        id(versions[0].model_fields_set)
    }
    assert {id(event.model_fields_set) for event in events} == {id(events[0].model_fields_set)}
    # Every field is set, as in an intent or an event read back from a SQL store.
    assert versions[0].model_fields_set == set(PaymentIntent.model_fields)
    assert events[0].model_fields_set == set(Event.model_fields)
