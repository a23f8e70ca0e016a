"""The store contract suite: every behaviour of the :class:`~payment_intent.ports.Store` port,
written once, for any store to prove itself against (the eventsourcing library's pattern).

Subclass :class:`StoreContract` in a test module and say how to make an empty store::

    from payment_intent.testing.contract import StoreContract

    class TestMyStore(StoreContract):
        def make_store(self, tmp_path):
            return MyStore(tmp_path / "intents.db")

pytest then runs every test below against ``MyStore``. Each test gets a fresh, empty store from
:meth:`StoreContract.make_store` and closes it afterwards. A store that keeps its data elsewhere
(a server) ignores ``tmp_path`` and returns a store over empty tables.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, cast

import pytest

from payment_intent.adapters.clocks import ManualClock
from payment_intent.domain.errors import CardError, InvalidRequestError, PaymentIntentError
from payment_intent.domain.events import changed as previous_attributes
from payment_intent.domain.model import (
    CardOptions,
    Charge,
    Event,
    FrozenDict,
    PaymentIntent,
    PaymentMethodOptions,
    Refund,
)
from payment_intent.domain.status import (
    CancellationReason,
    CaptureMethod,
    EventType,
    RefundStatus,
    Status,
)
from payment_intent.ids import event_id, new_id
from payment_intent.ports import (
    BatchStore,
    Claim,
    Commit,
    DataError,
    IdempotencyRecord,
    IntegrityError,
    ListQuery,
    RefundQuery,
    Store,
)
from payment_intent.service import PaymentIntents

__all__ = ["BatchStoreContract", "StoreContract"]

T0 = 1_700_000_000
DAY = 24 * 3600
#: The time of the list queries whose intents hold nothing that lapses.
NOW = T0 + 3600


def make_intent(**changes: Any) -> PaymentIntent:
    """A plain intent at version 1; ``changes`` override any field."""
    intent_id = changes.pop("id", None) or new_id("pi")
    fields: dict[str, Any] = {
        "id": intent_id,
        "amount": 2000,
        "currency": "usd",
        "status": Status.REQUIRES_PAYMENT_METHOD,
        "client_secret": f"{intent_id}_secret_x",
        "created": T0,
        "updated_at": T0,
        "version": 1,
    }
    fields.update(changes)
    return PaymentIntent(**fields)


def rich_intent() -> PaymentIntent:
    """An intent with every kind of field filled in, to prove a round trip loses nothing."""
    intent_id = new_id("pi")
    return make_intent(
        id=intent_id,
        amount=99_999_999,
        amount_capturable=99_999_999,
        currency="jpy",
        status=Status.REQUIRES_CAPTURE,
        customer="cus_ünïcødé 'quoted' \"double\"",
        payment_method="pm_card_visa",
        payment_method_types=("card", "open_banking"),
        payment_method_options=PaymentMethodOptions(
            card=CardOptions(
                capture_type=CaptureMethod.MANUAL,
                allowed_bins=("424242", "555555"),
                allowed_funding=("credit",),
            )
        ),
        description="A description with\nnewlines, tabs\t and emoji 💳",
        statement_descriptor="CASAPAY*RENT",
        capture_method=CaptureMethod.MANUAL,
        return_url="https://example.com/return?a=1&b=2",
        charges=(
            Charge(
                id=new_id("ch"),
                amount=99_999_999,
                status="failed",
                payment_method="pm_card_visa_chargeDeclined",
                payment_method_type="card",
                failure_code="card_declined",
                failure_message="Your card was declined.",
                decline_code="generic_decline",
                created=T0,
            ),
            Charge(
                id=new_id("ch"),
                amount=99_999_999,
                status="succeeded",
                payment_method="pm_card_visa",
                payment_method_type="card",
                created=T0 + 5,
            ),
        ),
        last_payment_error=None,
        next_action=None,
        metadata={"order": "42", "ключ": "значение", "empty-ish": " "},
        capture_before_at=T0 + 7 * DAY,
        livemode=True,
        created=T0,
        updated_at=T0 + 5,
        authenticated_payment_method="pm_card_threeDSecure2Required",
    )


def make_event(intent: PaymentIntent, event_type: EventType = EventType.CREATED) -> Event:
    return Event(
        id=new_id("evt"),
        type=event_type.value,
        created=intent.updated_at,
        intent_id=intent.id,
        intent_version=intent.version,
        data=intent,
        previous_attributes={"status": "requires_confirmation"} if intent.version > 1 else {},
    )


def make_record(key: str, created: int = T0, ttl: int = DAY, **response: Any) -> IdempotencyRecord:
    return IdempotencyRecord(
        key=key,
        fingerprint=f"fp-{key}-{created}",
        created=created,
        expires_at=created + ttl,
        response=response or {"intent": {"id": "pi_x", "nested": [1, "two", None, {"ü": True}]}},
    )


def make_claim(
    intent_id: str,
    expected_version: int,
    attempt_id: str = "att_1",
    key: str | None = None,
    created: int = T0,
) -> Claim:
    """A claim of a confirm, as a command takes it out before it asks the processor."""
    return Claim(
        intent_id=intent_id,
        attempt_id=attempt_id,
        expected_version=expected_version,
        operation="confirm",
        params={"payment_method": "pm_card_visa", "nested": [1, "ü", None, {"deep": True}]},
        idempotency_key=key,
        fingerprint=f"fp-{attempt_id}",
        created=created,
        expires_at=created + 600,
    )


def next_version(intent: PaymentIntent, **changes: Any) -> PaymentIntent:
    return intent.model_copy(update={"version": intent.version + 1, **changes})


def insert(store: Store, intent: PaymentIntent, *events: Event) -> PaymentIntent:
    """Store ``intent`` as a new intent (its version must be 1) with ``events``."""
    store.commit(Commit(intent, 0, events or (make_event(intent),)))
    return intent


def advance(store: Store, intent: PaymentIntent, **changes: Any) -> PaymentIntent:
    """Store the next version of ``intent`` with ``changes`` and one event."""
    after = next_version(intent, **changes)
    store.commit(Commit(after, intent.version, (make_event(after, EventType.SUCCEEDED),)))
    return after


def paid_intent(charges: int = 1, **changes: Any) -> PaymentIntent:
    """A succeeded intent at version 1 whose ``charges`` succeeded charges collected its amount.

    The store judges no domain rule, so an intent may hold refunds of two charges here: that makes
    the intent and charge filters of the refund index select different refunds.
    """
    return make_intent(
        status=Status.SUCCEEDED,
        amount_received=2000,
        payment_method="pm_card_visa",
        charges=tuple(
            Charge(
                id=new_id("ch"),
                amount=2000,
                amount_captured=2000,
                captured=True,
                status="succeeded",
                payment_method="pm_card_visa",
                payment_method_type="card",
                created=T0,
            )
            for _ in range(charges)
        ),
        **changes,
    )


def make_refund(
    intent: PaymentIntent, charge: Charge | None = None, created: int = T0 + 60, **changes: Any
) -> Refund:
    """A succeeded refund of ``charge`` (the intent's latest by default), made at ``created``."""
    fields: dict[str, Any] = {
        "id": new_id("re"),
        "amount": 500,
        "currency": intent.currency,
        "payment_intent": intent.id,
        "charge": (charge or intent.charges[-1]).id,
        "status": RefundStatus.SUCCEEDED,
        "created": created,
        "updated_at": created,
    }
    fields.update(changes)
    return Refund(**fields)


def add_refunds(store: Store, intent: PaymentIntent, *refunds: Refund) -> PaymentIntent:
    """Store the next version of ``intent``, holding ``refunds`` after the ones it holds."""
    return advance(store, intent, refunds=(*intent.refunds, *refunds))


def store_refunds(store: Store) -> list[Refund]:
    """Ten refunds, stored: nine of three intents, added one commit at a time over shared seconds
    (the first intent's of two charges), and one of an intent created holding it. A fourth intent
    holds none."""
    owners = [insert(store, paid_intent(charges=2)), insert(store, paid_intent())]
    owners.append(insert(store, paid_intent()))
    insert(store, paid_intent())
    refunds = []
    for n in range(9):
        owner = owners[n % 3]
        charge = owner.charges[(n // 3) % len(owner.charges)]
        refund = make_refund(owner, charge, created=T0 + 100 + n // 2)  # two a second: ties
        owners[n % 3] = add_refunds(store, owner, refund)
        refunds.append(refund)
    born = paid_intent()
    born_refunded = born.model_copy(update={"refunds": (make_refund(born, created=T0 + 102),)})
    insert(store, born_refunded)
    return [*refunds, *born_refunded.refunds]


def expected_refunds(refunds: list[Refund], query: RefundQuery) -> list[tuple[str, str]]:
    """What a page of refunds must hold, computed the slow, obvious way."""

    def matches(refund: Refund) -> bool:
        key = (refund.created, refund.id)
        return (
            query.payment_intent in (None, refund.payment_intent)
            and query.charge in (None, refund.charge)
            and (query.after is None or key < query.after)
            and (query.before is None or key > query.before)
        )

    chosen = sorted(
        filter(matches, refunds), key=lambda r: (r.created, r.id), reverse=query.before is None
    )
    return [(refund.id, refund.payment_intent) for refund in chosen[: query.limit]]


def all_events(store: Store) -> list[Event]:
    events: list[Event] = []
    while batch := store.read_events(len(events), 1000):
        events.extend(batch)
    return events


def race(workers: int, task: Callable[[int], Any]) -> list[Any]:
    """Run ``task(i)`` on ``workers`` threads released together; results or raised exceptions."""
    barrier = threading.Barrier(workers)
    results: list[Any] = [None] * workers

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = task(index)
        except Exception as error:  # collected: the test judges every outcome
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a racing thread hung"
    return results


class StoreContract(ABC):
    """The behaviour every store must have. Subclass it and implement :meth:`make_store`."""

    #: Threads used by the concurrency tests; a store with a connection pool needs this many.
    racers: ClassVar[int] = 6

    @abstractmethod
    def make_store(self, tmp_path: Path) -> Store:
        """A new, empty store. ``tmp_path`` is a fresh directory the store may keep files in."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        store = self.make_store(tmp_path)
        try:
            yield store
        finally:
            store.close()

    # -- load and commit -----------------------------------------------------------------------

    def test_the_store_satisfies_the_store_protocol(self, store: Store) -> None:
        assert isinstance(store, Store)

    def test_an_unknown_intent_loads_as_none(self, store: Store) -> None:
        assert store.load("pi_missing") is None

    def test_a_committed_intent_loads_back_field_for_field(self, store: Store) -> None:
        intent = rich_intent()
        store.commit(Commit(intent, 0))
        loaded = store.load(intent.id)
        assert loaded is not None
        assert loaded == intent
        assert loaded.model_dump() == intent.model_dump()

    def test_a_new_version_replaces_the_one_before(self, store: Store) -> None:
        first = insert(store, make_intent())
        second = advance(store, first, status=Status.CANCELED, canceled_at=T0 + 1)
        third = advance(store, second, metadata={"a": "b"}, updated_at=T0 + 2)
        assert store.load(first.id) == third

    def test_intents_are_stored_independently(self, store: Store) -> None:
        one, two = insert(store, make_intent()), insert(store, make_intent(amount=3000))
        advance(store, one, description="changed")
        assert store.load(two.id) == two

    # -- optimistic concurrency ----------------------------------------------------------------

    def test_a_commit_from_a_stale_version_is_an_integrity_error_and_changes_nothing(
        self, store: Store
    ) -> None:
        first = insert(store, make_intent())
        second = advance(store, first, description="winner")
        events_before = all_events(store)
        loser = next_version(first, description="loser")
        with pytest.raises(IntegrityError) as raised:
            store.commit(Commit(loser, first.version, (make_event(loser),)))
        # The store speaks storage; what the API says about a lost race is the service's call.
        assert not isinstance(raised.value, PaymentIntentError)
        assert first.id in str(raised.value)
        assert store.load(first.id) == second
        assert all_events(store) == events_before

    def test_inserting_an_id_that_exists_conflicts(self, store: Store) -> None:
        original = insert(store, make_intent())
        impostor = make_intent(id=original.id, amount=9999)
        with pytest.raises(IntegrityError):
            store.commit(Commit(impostor, 0, (make_event(impostor),)))
        assert store.load(original.id) == original
        assert len(all_events(store)) == 1

    def test_updating_an_intent_that_was_never_stored_conflicts(self, store: Store) -> None:
        ghost = make_intent(version=2)
        with pytest.raises(IntegrityError):
            store.commit(Commit(ghost, 1, (make_event(ghost),)))
        assert store.load(ghost.id) is None
        assert all_events(store) == []

    def test_a_version_that_does_not_follow_the_expected_one_is_refused(self, store: Store) -> None:
        first = insert(store, make_intent())
        skipping = first.model_copy(update={"version": 3})
        with pytest.raises(IntegrityError):
            store.commit(Commit(skipping, 1))
        assert store.load(first.id) == first

    # -- atomicity -----------------------------------------------------------------------------

    def test_a_failed_commit_writes_no_events_and_no_idempotency_record(self, store: Store) -> None:
        first = insert(store, make_intent())
        advance(store, first)
        stale = next_version(first, description="stale")
        with pytest.raises(IntegrityError):
            store.commit(
                Commit(
                    stale,
                    first.version,
                    (make_event(stale), make_event(stale, EventType.CANCELED)),
                    make_record("key-of-a-lost-race"),
                )
            )
        assert store.idempotency_record("key-of-a-lost-race") is None
        assert [event.intent_version for event in all_events(store)] == [1, 2]

    def test_a_key_held_by_another_request_fails_the_whole_commit(self, store: Store) -> None:
        first = insert(store, make_intent())
        store.commit(Commit(None, 0, (), make_record("held", created=T0)))
        second = next_version(first, description="would be lost")
        with pytest.raises(IntegrityError):
            store.commit(
                Commit(second, 1, (make_event(second),), make_record("held", created=T0 + 60))
            )
        assert store.load(first.id) == first
        assert len(all_events(store)) == 1
        record = store.idempotency_record("held")
        assert record is not None
        assert record.created == T0

    def test_a_failed_commit_leaves_no_gap_in_the_event_sequence(self, store: Store) -> None:
        first = insert(store, make_intent())
        with pytest.raises(IntegrityError):
            insert(store, make_intent(id=first.id))
        insert(store, make_intent())
        assert [event.sequence for event in all_events(store)] == [1, 2]

    # -- idempotency records -------------------------------------------------------------------

    def test_an_unknown_key_has_no_record(self, store: Store) -> None:
        assert store.idempotency_record("never-used") is None

    def test_an_idempotency_record_round_trips(self, store: Store) -> None:
        intent = insert(store, make_intent())
        record = make_record(
            "k-ü 'quoted'",
            error={"type": "card_error", "code": "card_declined", "payment_intent": None},
        )
        after = next_version(intent)
        store.commit(Commit(after, 1, (make_event(after),), record))
        assert store.idempotency_record(record.key) == record

    def test_a_record_can_be_committed_without_an_intent(self, store: Store) -> None:
        record = make_record("alone")
        store.commit(Commit(None, 0, (), record))
        assert store.idempotency_record("alone") == record
        assert all_events(store) == []

    def test_a_live_key_cannot_be_taken_again(self, store: Store) -> None:
        first = make_record("live", created=T0)
        store.commit(Commit(None, 0, (), first))
        with pytest.raises(IntegrityError):
            store.commit(Commit(None, 0, (), make_record("live", created=T0 + DAY - 1)))
        assert store.idempotency_record("live") == first

    def test_an_expired_key_is_replaced(self, store: Store) -> None:
        store.commit(Commit(None, 0, (), make_record("reused", created=T0)))
        # Expired exactly at the new request's time: free again.
        fresh = make_record("reused", created=T0 + DAY, status="fresh")
        store.commit(Commit(None, 0, (), fresh))
        assert store.idempotency_record("reused") == fresh

    def test_keys_are_independent(self, store: Store) -> None:
        one, two = make_record("one"), make_record("two")
        store.commit(Commit(None, 0, (), one))
        store.commit(Commit(None, 0, (), two))
        assert store.idempotency_record("one") == one
        assert store.idempotency_record("two") == two

    # -- expired idempotency records are deleted ------------------------------------------------

    def test_purge_deletes_records_expired_at_or_before_now_oldest_first_up_to_the_limit(
        self, store: Store
    ) -> None:
        live = make_record("live", created=T0 + 10, ttl=10 * DAY)
        store.commit(Commit(None, 0, (), live))
        for n in range(5):  # old-n expires at T0 + DAY + n
            store.commit(Commit(None, 0, (), make_record(f"old-{n}", created=T0 + n)))
        now = T0 + DAY + 3  # old-0 to old-3 have expired, old-3 exactly now
        assert store.purge_idempotency(now, 2) == 2
        gone = [store.idempotency_record(f"old-{n}") is None for n in range(5)]
        assert gone == [True, True, False, False, False]
        assert store.purge_idempotency(now, 10) == 2
        assert store.purge_idempotency(now, 10) == 0
        assert store.idempotency_record("old-3") is None
        assert store.idempotency_record("old-4") == make_record("old-4", created=T0 + 4)
        assert store.idempotency_record("live") == live

    def test_each_commit_that_writes_a_record_deletes_two_records_expired_by_its_created(
        self, store: Store
    ) -> None:
        for n in range(5):  # old-n expires at T0 + DAY + n
            store.commit(Commit(None, 0, (), make_record(f"old-{n}", created=T0 + n)))
        intent = insert(store, make_intent())  # no record: deletes nothing
        later = next_version(intent)
        store.commit(
            Commit(later, 1, (make_event(later),), make_record("new", created=T0 + DAY + 3))
        )
        gone = [store.idempotency_record(f"old-{n}") is None for n in range(5)]
        assert gone == [True, True, False, False, False]
        assert store.idempotency_record("new") == make_record("new", created=T0 + DAY + 3)
        # old-2 and old-3 had expired by then, old-4 had not.
        assert store.purge_idempotency(T0 + DAY + 3, 10) == 2
        assert store.idempotency_record("old-4") is not None

    # -- claims --------------------------------------------------------------------------------

    def test_nothing_is_claimed_in_a_new_store(self, store: Store) -> None:
        assert store.claim("pi_missing") is None
        assert store.claim_for_key("missing") is None

    def test_a_claim_reads_back_whole_by_intent_and_by_key_and_changes_no_intent(
        self, store: Store
    ) -> None:
        intent = insert(store, make_intent())
        claim = make_claim(intent.id, 1, key="confirm-1")
        store.commit(Commit(None, 0, claim=claim))
        assert store.claim(intent.id) == claim
        assert store.claim_for_key("confirm-1") == claim
        assert store.load(intent.id) == intent
        assert store.idempotency_record("confirm-1") is None
        assert len(all_events(store)) == 1

    def test_an_intent_not_yet_stored_is_claimed_at_version_0_and_created_by_the_settling_commit(
        self, store: Store
    ) -> None:
        fresh = make_intent()
        claim = make_claim(fresh.id, 0)
        store.commit(Commit(None, 0, claim=claim))
        assert store.claim(fresh.id) == claim
        assert store.load(fresh.id) is None
        store.commit(Commit(fresh, 0, (make_event(fresh),), settles=claim))
        assert store.load(fresh.id) == fresh
        assert store.claim(fresh.id) is None

    def test_a_claim_for_another_version_than_the_stored_one_is_refused(self, store: Store) -> None:
        first = insert(store, make_intent())
        advance(store, first)
        for stale in (make_claim(first.id, 1), make_claim(first.id, 0), make_claim(first.id, 3)):
            with pytest.raises(IntegrityError):
                store.commit(Commit(None, 0, claim=stale))
        with pytest.raises(IntegrityError):
            store.commit(Commit(None, 0, claim=make_claim(new_id("pi"), 1)))  # never stored
        assert store.claim(first.id) is None
        assert store.claim_for_key("att_1") is None

    def test_an_intent_holds_one_claim_at_a_time(self, store: Store) -> None:
        intent = insert(store, make_intent())
        first = make_claim(intent.id, 1, "att_1", key="k1")
        store.commit(Commit(None, 0, claim=first))
        with pytest.raises(IntegrityError):
            store.commit(Commit(None, 0, claim=make_claim(intent.id, 1, "att_2", key="k2")))
        assert store.claim(intent.id) == first
        assert store.claim_for_key("k2") is None

    def test_a_key_holds_one_claim_at_a_time(self, store: Store) -> None:
        one, two = insert(store, make_intent()), insert(store, make_intent())
        first = make_claim(one.id, 1, "att_1", key="shared")
        store.commit(Commit(None, 0, claim=first))
        with pytest.raises(IntegrityError):
            store.commit(Commit(None, 0, claim=make_claim(two.id, 1, "att_2", key="shared")))
        assert store.claim(two.id) is None
        assert store.claim_for_key("shared") == first

    def test_claims_without_a_key_do_not_collide(self, store: Store) -> None:
        intents = [insert(store, make_intent()) for _ in range(3)]
        claims = [make_claim(intent.id, 1, f"att_{n}") for n, intent in enumerate(intents)]
        for claim in claims:
            store.commit(Commit(None, 0, claim=claim))
        assert [store.claim(intent.id) for intent in intents] == claims

    def test_a_claim_cannot_take_the_key_of_a_live_record_but_may_take_an_expired_one(
        self, store: Store
    ) -> None:
        intent = insert(store, make_intent())
        store.commit(Commit(None, 0, idempotency=make_record("used", created=T0)))
        early = make_claim(intent.id, 1, key="used", created=T0 + DAY - 1)
        with pytest.raises(IntegrityError):
            store.commit(Commit(None, 0, claim=early))
        assert store.claim(intent.id) is None
        claim = make_claim(intent.id, 1, key="used", created=T0 + DAY)  # expired exactly then
        store.commit(Commit(None, 0, claim=claim))
        assert store.claim_for_key("used") == claim

    def test_a_claimed_intent_refuses_every_commit_that_does_not_settle_its_claim(
        self, store: Store
    ) -> None:
        intent = insert(store, make_intent())
        claim = make_claim(intent.id, 1)
        store.commit(Commit(None, 0, claim=claim))
        changed = next_version(intent, description="a racer")
        with pytest.raises(IntegrityError):
            store.commit(Commit(changed, 1, (make_event(changed),)))
        with pytest.raises(IntegrityError):  # a claim of another attempt settles nothing
            store.commit(
                Commit(changed, 1, (make_event(changed),), settles=replace(claim, attempt_id="x"))
            )
        assert store.load(intent.id) == intent
        assert store.claim(intent.id) == claim
        assert len(all_events(store)) == 1

    def test_the_commit_that_settles_a_claim_writes_its_changes_and_releases_the_claim(
        self, store: Store
    ) -> None:
        intent = insert(store, make_intent())
        claim = make_claim(intent.id, 1, key="confirm-1")
        store.commit(Commit(None, 0, claim=claim))
        paid = next_version(intent, status=Status.SUCCEEDED)
        record = make_record("confirm-1", created=T0 + 1)
        event = make_event(paid, EventType.SUCCEEDED)
        store.commit(Commit(paid, 1, (event,), record, settles=claim))
        assert store.load(intent.id) == paid
        assert store.idempotency_record("confirm-1") == record
        assert [e.id for e in all_events(store)][-1] == event.id
        assert store.claim(intent.id) is None
        assert store.claim_for_key("confirm-1") is None
        advance(store, paid)  # ordinary commits again

    def test_a_claim_released_without_a_change_frees_its_intent_and_key(self, store: Store) -> None:
        intent = insert(store, make_intent())
        claim = make_claim(intent.id, 1, key="k")
        store.commit(Commit(None, 0, claim=claim))
        store.commit(Commit(None, 0, settles=claim))
        assert store.claim(intent.id) is None
        assert store.claim_for_key("k") is None
        assert store.idempotency_record("k") is None
        store.commit(Commit(None, 0, idempotency=make_record("k", created=T0 + 1)))
        advance(store, intent)

    def test_settling_a_claim_that_is_no_longer_held_is_refused_and_writes_nothing(
        self, store: Store
    ) -> None:
        intent = insert(store, make_intent())
        claim = make_claim(intent.id, 1)
        store.commit(Commit(None, 0, claim=claim))
        store.commit(Commit(None, 0, settles=claim))
        paid = next_version(intent, status=Status.SUCCEEDED)
        with pytest.raises(IntegrityError):
            store.commit(Commit(paid, 1, (make_event(paid),), make_record("late"), settles=claim))
        assert store.load(intent.id) == intent
        assert store.idempotency_record("late") is None
        assert len(all_events(store)) == 1

    def test_a_record_cannot_take_a_key_held_by_the_claim_of_another_request(
        self, store: Store
    ) -> None:
        one, two = insert(store, make_intent()), insert(store, make_intent())
        claim = make_claim(one.id, 1, key="held")
        store.commit(Commit(None, 0, claim=claim))
        changed = next_version(two)
        with pytest.raises(IntegrityError):
            store.commit(
                Commit(changed, 1, (make_event(changed),), make_record("held", created=T0 + 1))
            )
        assert store.load(two.id) == two
        assert store.idempotency_record("held") is None
        # Purging expired records leaves a claimed key claimed.
        store.purge_idempotency(T0 + 30 * DAY, 100)
        assert store.claim_for_key("held") == claim
        with pytest.raises(IntegrityError):
            store.commit(Commit(None, 0, idempotency=make_record("held", created=T0 + 30 * DAY)))

    def test_a_commit_that_takes_a_claim_writes_nothing_else(self, store: Store) -> None:
        intent = insert(store, make_intent())
        changed = next_version(intent)
        held = make_claim(intent.id, 1, "att_held")
        store.commit(Commit(None, 0, claim=held))
        claim = make_claim(intent.id, 1)
        for mixed in (
            Commit(changed, 1, claim=claim),
            Commit(None, 0, (make_event(intent),), claim=claim),
            Commit(None, 0, idempotency=make_record("k"), claim=claim),
            Commit(None, 0, claim=claim, settles=held),
        ):
            with pytest.raises(ValueError, match="claim"):
                store.commit(mixed)
        assert store.load(intent.id) == intent
        assert store.claim(intent.id) == held
        assert store.idempotency_record("k") is None
        assert len(all_events(store)) == 1

    # -- values a database cannot hold -----------------------------------------------------------

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("id", "pi_nul\x00"),
            ("customer", "cus_nul\x00"),
            ("description", "a lone surrogate \ud800"),
            ("created", 2**64),
        ],
    )
    def test_an_intent_the_store_cannot_hold_is_a_data_error_that_writes_nothing(
        self, store: Store, field: str, value: object
    ) -> None:
        """A store either keeps such a value exactly or refuses it with DataError; no driver
        error ever escapes, and a refused commit writes nothing."""
        intent = make_intent(**{field: value})
        try:
            store.commit(Commit(intent, 0, (make_event(intent),), make_record("k")))
        except DataError:
            assert all_events(store) == []
            assert store.idempotency_record("k") is None
            assert _or_data_error(lambda: store.load(intent.id)) in (None, DataError)
        else:
            assert store.load(intent.id) == intent
            assert all_events(store)[0].data == intent

    @pytest.mark.parametrize("key", ["key-nul\x00", "key-surrogate-\udfff"])
    def test_a_key_the_store_cannot_hold_is_a_data_error_that_writes_nothing(
        self, store: Store, key: str
    ) -> None:
        intent = insert(store, make_intent())
        record, claim = make_record(key), make_claim(intent.id, 1, key=f"{key}-claimed")
        for commit in (Commit(None, 0, idempotency=record), Commit(None, 0, claim=claim)):
            try:
                store.commit(commit)
            except DataError:
                assert _or_data_error(lambda: store.idempotency_record(record.key)) in (
                    None,
                    DataError,
                )
                assert _or_data_error(lambda: store.claim_for_key(f"{key}-claimed")) in (
                    None,
                    DataError,
                )
                assert store.claim(intent.id) is None
            else:
                if commit.idempotency is not None:
                    assert store.idempotency_record(record.key) == record
                else:
                    assert store.claim_for_key(f"{key}-claimed") == claim

    # -- list pages ----------------------------------------------------------------------------

    @pytest.fixture
    def stored(self, store: Store) -> list[PaymentIntent]:
        """Eighteen intents: three customers (one absent), three statuses, shared seconds."""
        intents: list[PaymentIntent] = []
        statuses = (Status.REQUIRES_PAYMENT_METHOD, Status.SUCCEEDED, Status.CANCELED)
        for n in range(18):
            intent = make_intent(
                created=T0 + n // 3,  # three intents per second: ties broken by id
                updated_at=T0 + n // 3,
                customer=(None, "cus_a", "cus_b")[n % 3],
                status=statuses[(n // 2) % 3],
            )
            intents.append(insert(store, intent))
        return intents

    @staticmethod
    def expected_page(intents: list[PaymentIntent], query: ListQuery) -> list[str]:
        """What a page must hold, computed the slow, obvious way."""

        def status(intent: PaymentIntent) -> Status:
            lapsed = intent.capture_before_at is not None and intent.capture_before_at <= query.now
            if intent.status is Status.REQUIRES_CAPTURE and lapsed:
                return Status.SUCCEEDED if intent.amount_received > 0 else Status.CANCELED
            return intent.status

        def matches(intent: PaymentIntent) -> bool:
            key = (intent.created, intent.id)
            return (
                (query.customer is None or intent.customer == query.customer)
                and (query.status is None or status(intent) == query.status)
                and (query.created_gte is None or intent.created >= query.created_gte)
                and (query.created_lte is None or intent.created <= query.created_lte)
                and (query.after is None or key < query.after)
                and (query.before is None or key > query.before)
            )

        chosen = sorted(
            (i for i in intents if matches(i)),
            key=lambda i: (i.created, i.id),
            reverse=query.before is None,
        )
        return [intent.id for intent in chosen[: query.limit]]

    def test_a_page_is_newest_first_with_ties_broken_by_id(
        self, store: Store, stored: list[PaymentIntent]
    ) -> None:
        page = store.list_intents(ListQuery(limit=100, now=NOW))
        keys = [(intent.created, intent.id) for intent in page]
        assert keys == sorted(keys, reverse=True)
        assert len(page) == len(stored)
        assert page == sorted(stored, key=lambda i: (i.created, i.id), reverse=True)

    @pytest.mark.parametrize("customer", [None, "cus_a", "cus_b", "cus_nobody"])
    @pytest.mark.parametrize(
        "status", [None, Status.SUCCEEDED, Status.CANCELED, Status.REQUIRES_CAPTURE]
    )
    @pytest.mark.parametrize(
        ("gte", "lte"), [(None, None), (T0 + 1, None), (None, T0 + 3), (T0 + 2, T0 + 2)]
    )
    def test_every_filter_selects_exactly_the_matching_intents(
        self,
        store: Store,
        stored: list[PaymentIntent],
        customer: str | None,
        status: Status | None,
        gte: int | None,
        lte: int | None,
    ) -> None:
        query = ListQuery(
            limit=100, now=NOW, customer=customer, status=status, created_gte=gte, created_lte=lte
        )
        assert [i.id for i in store.list_intents(query)] == self.expected_page(stored, query)

    @pytest.mark.parametrize("customer", [None, "cus_a"])
    @pytest.mark.parametrize("limit", [1, 2, 5])
    def test_the_after_cursor_pages_through_everything_once(
        self, store: Store, stored: list[PaymentIntent], customer: str | None, limit: int
    ) -> None:
        seen: list[str] = []
        query = ListQuery(limit=limit, now=NOW, customer=customer)
        while page := store.list_intents(query):
            assert len(page) <= limit
            assert [i.id for i in page] == self.expected_page(stored, query)
            seen.extend(intent.id for intent in page)
            query = ListQuery(
                limit=limit, now=NOW, customer=customer, after=(page[-1].created, page[-1].id)
            )
        everything = ListQuery(limit=100, now=NOW, customer=customer)
        assert seen == self.expected_page(stored, everything)

    @pytest.mark.parametrize("limit", [1, 3, 100])
    def test_the_before_cursor_returns_the_newer_intents_oldest_first(
        self, store: Store, stored: list[PaymentIntent], limit: int
    ) -> None:
        for cursor in (stored[0], stored[7], stored[-1]):
            query = ListQuery(limit=limit, now=NOW, before=(cursor.created, cursor.id))
            page = store.list_intents(query)
            assert [i.id for i in page] == self.expected_page(stored, query)
            assert all((i.created, i.id) > (cursor.created, cursor.id) for i in page)

    def test_cursors_combine_with_filters(self, store: Store, stored: list[PaymentIntent]) -> None:
        cursor = stored[9]
        for query in (
            ListQuery(limit=4, now=NOW, status=Status.SUCCEEDED, after=(cursor.created, cursor.id)),
            ListQuery(limit=4, now=NOW, customer="cus_b", before=(cursor.created, cursor.id)),
            ListQuery(limit=4, now=NOW, created_gte=T0 + 1, after=(cursor.created, cursor.id)),
        ):
            assert [i.id for i in store.list_intents(query)] == self.expected_page(stored, query)

    def test_limit_caps_the_page(self, store: Store, stored: list[PaymentIntent]) -> None:
        assert len(store.list_intents(ListQuery(limit=1, now=NOW))) == 1
        assert len(store.list_intents(ListQuery(limit=7, now=NOW))) == 7

    def test_a_list_shows_each_intent_at_its_latest_version(
        self, store: Store, stored: list[PaymentIntent]
    ) -> None:
        moved = advance(store, stored[0], status=Status.REQUIRES_CAPTURE)
        held = store.list_intents(ListQuery(limit=100, now=NOW, status=Status.REQUIRES_CAPTURE))
        assert held == [moved]
        was = store.list_intents(ListQuery(limit=100, now=NOW, status=stored[0].status))
        assert moved.id not in [intent.id for intent in was]

    def test_an_empty_store_lists_nothing(self, store: Store) -> None:
        assert store.list_intents(ListQuery(limit=10, now=NOW)) == []

    # -- lapsed holds in the status filter -------------------------------------------------------

    @pytest.fixture
    def holds(self, store: Store) -> list[PaymentIntent]:
        """Twenty intents over ten seconds for two customers: holds that lapse at T0 + 100 (every
        other one partly captured already), holds that lapse much later, a hold without a
        deadline, canceled and succeeded intents."""
        intents = []
        for n in range(20):
            changes: dict[str, Any] = {
                "created": T0 + n // 2,
                "updated_at": T0 + n // 2,
                "customer": ("cus_a", "cus_b")[n % 2],
            }
            kind = n % 5
            if kind in (0, 1, 4):
                changes.update(
                    status=Status.REQUIRES_CAPTURE,
                    amount_capturable=2000,
                    capture_method=CaptureMethod.MANUAL,
                    capture_before_at=(T0 + 100, T0 + 10_000, None, None, None)[kind],
                )
                if kind == 0 and n % 10 == 5:  # a multicapture hold, part of it collected
                    changes.update(amount_capturable=1500, amount_received=500)
            elif kind == 2:
                changes.update(
                    status=Status.CANCELED,
                    canceled_at=T0 + 50,
                    cancellation_reason=CancellationReason.REQUESTED_BY_CUSTOMER,
                )
            else:
                changes.update(status=Status.SUCCEEDED, amount_received=2000)
            intents.append(insert(store, make_intent(**changes)))
        return intents

    @pytest.mark.parametrize("status", [Status.CANCELED, Status.SUCCEEDED, Status.REQUIRES_CAPTURE])
    @pytest.mark.parametrize("customer", [None, "cus_a"])
    @pytest.mark.parametrize(("gte", "lte"), [(None, None), (T0 + 2, T0 + 7)])
    @pytest.mark.parametrize("now", [T0 + 99, T0 + 100, T0 + 20_000])
    def test_a_lapsed_hold_is_filtered_as_it_ends_not_as_requires_capture(
        self,
        store: Store,
        holds: list[PaymentIntent],
        status: Status,
        customer: str | None,
        gte: int | None,
        lte: int | None,
        now: int,
    ) -> None:
        query = ListQuery(
            limit=100, now=now, customer=customer, status=status, created_gte=gte, created_lte=lte
        )
        page = store.list_intents(query)
        assert [i.id for i in page] == self.expected_page(holds, query)
        lapsed = {
            i.id: Status.SUCCEEDED if i.amount_received else Status.CANCELED
            for i in holds
            if i.capture_before_at is not None and i.capture_before_at <= now
        }
        listed = {i.id for i in page}
        if status is Status.REQUIRES_CAPTURE:
            assert not set(lapsed) & listed
        elif customer is None and gte is None:
            assert {i for i, ends_as in lapsed.items() if ends_as is status} <= listed
        # The items are returned as stored: a lapsed hold still says requires_capture.
        assert all(intent in holds for intent in page)

    @pytest.mark.parametrize("status", [Status.CANCELED, Status.REQUIRES_CAPTURE])
    @pytest.mark.parametrize("limit", [1, 3])
    def test_cursors_page_through_a_filter_with_lapsed_holds_in_both_directions(
        self, store: Store, holds: list[PaymentIntent], status: Status, limit: int
    ) -> None:
        now = T0 + 100
        everything = self.expected_page(holds, ListQuery(limit=100, now=now, status=status))
        assert len(everything) > 3
        forward: list[str] = []
        query = ListQuery(limit=limit, now=now, status=status)
        while page := store.list_intents(query):
            assert [i.id for i in page] == self.expected_page(holds, query)
            forward.extend(i.id for i in page)
            query = ListQuery(
                limit=limit, now=now, status=status, after=(page[-1].created, page[-1].id)
            )
        assert forward == everything
        # From the oldest, ``before`` walks back up to the newest, oldest first.
        by_id = {i.id: i for i in holds}
        oldest = by_id[everything[-1]]
        backward: list[str] = []
        query = ListQuery(limit=limit, now=now, status=status, before=(oldest.created, oldest.id))
        while page := store.list_intents(query):
            assert [i.id for i in page] == self.expected_page(holds, query)
            backward.extend(i.id for i in page)
            query = ListQuery(
                limit=limit, now=now, status=status, before=(page[-1].created, page[-1].id)
            )
        assert backward == everything[-2::-1]

    # -- the expiry sweep's index --------------------------------------------------------------

    def held(self, store: Store, capture_before_at: int, **changes: Any) -> PaymentIntent:
        return insert(
            store,
            make_intent(
                status=Status.REQUIRES_CAPTURE,
                amount_capturable=2000,
                capture_method=CaptureMethod.MANUAL,
                capture_before_at=capture_before_at,
                **changes,
            ),
        )

    def test_due_authorizations_are_the_lapsed_holds_soonest_first(self, store: Store) -> None:
        late = self.held(store, T0 + 300)
        early = self.held(store, T0 + 100)
        tied = sorted([self.held(store, T0 + 200), self.held(store, T0 + 200)], key=lambda i: i.id)
        future = self.held(store, T0 + 10_000)
        insert(store, make_intent())  # not held at all
        due = store.due_authorizations(T0 + 300, 100)
        assert due == [early.id, tied[0].id, tied[1].id, late.id]
        assert future.id not in due

    def test_a_hold_is_due_at_capture_before_at_not_before(self, store: Store) -> None:
        hold = self.held(store, T0 + 100)
        assert store.due_authorizations(T0 + 99, 10) == []
        assert store.due_authorizations(T0 + 100, 10) == [hold.id]

    def test_due_authorizations_respects_the_limit(self, store: Store) -> None:
        holds = [self.held(store, T0 + n) for n in range(5)]
        assert store.due_authorizations(T0 + 10, 2) == [holds[0].id, holds[1].id]

    def test_a_hold_that_was_captured_or_canceled_is_no_longer_due(self, store: Store) -> None:
        captured, canceled = self.held(store, T0 + 10), self.held(store, T0 + 20)
        still = self.held(store, T0 + 30)
        advance(store, captured, status=Status.SUCCEEDED, amount_capturable=0, amount_received=2000)
        advance(
            store,
            canceled,
            status=Status.CANCELED,
            amount_capturable=0,
            canceled_at=T0 + 5,
            cancellation_reason=CancellationReason.REQUESTED_BY_CUSTOMER,
        )
        assert store.due_authorizations(T0 + 100, 10) == [still.id]

    # -- the refund index ----------------------------------------------------------------------

    @pytest.fixture
    def refunds(self, store: Store) -> list[Refund]:
        return store_refunds(store)

    def test_every_refund_an_intent_holds_is_found_by_its_id(
        self, store: Store, refunds: list[Refund]
    ) -> None:
        for refund in refunds:
            assert store.refund_owner(refund.id) == refund.payment_intent
        assert store.refund_owner("re_missing") is None

    def test_refunds_list_newest_first_with_ties_broken_by_id(
        self, store: Store, refunds: list[Refund]
    ) -> None:
        page = store.list_refunds(RefundQuery(limit=100))
        newest_first = sorted(refunds, key=lambda r: (r.created, r.id), reverse=True)
        assert page == [(refund.id, refund.payment_intent) for refund in newest_first]

    def test_refund_filters_by_intent_by_charge_and_by_both_select_exactly_the_matching_refunds(
        self, store: Store, refunds: list[Refund]
    ) -> None:
        intents = sorted({refund.payment_intent for refund in refunds})
        charges = sorted({refund.charge for refund in refunds})
        for payment_intent in [None, *intents, "pi_missing"]:
            for charge in [None, *charges, "ch_missing"]:
                query = RefundQuery(limit=100, payment_intent=payment_intent, charge=charge)
                assert store.list_refunds(query) == expected_refunds(refunds, query), query
        # The data can tell the filters apart: one intent's refunds are of two charges.
        first = refunds[0]
        both = RefundQuery(limit=100, payment_intent=first.payment_intent, charge=first.charge)
        by_intent = RefundQuery(limit=100, payment_intent=first.payment_intent)
        assert 0 < len(expected_refunds(refunds, both)) < len(expected_refunds(refunds, by_intent))

    @pytest.mark.parametrize("of_first_intent", [False, True])
    @pytest.mark.parametrize("limit", [1, 2, 4])
    def test_the_after_cursor_pages_through_refunds_once(
        self, store: Store, refunds: list[Refund], of_first_intent: bool, limit: int
    ) -> None:
        payment_intent = refunds[0].payment_intent if of_first_intent else None
        query = RefundQuery(limit=limit, payment_intent=payment_intent)
        seen: list[tuple[str, str]] = []
        while page := store.list_refunds(query):
            assert page == expected_refunds(refunds, query)
            seen.extend(page)
            last = next(r for r in refunds if r.id == page[-1][0])
            query = replace(query, after=(last.created, last.id))
        everything = RefundQuery(limit=100, payment_intent=payment_intent)
        assert seen == expected_refunds(refunds, everything)

    @pytest.mark.parametrize("limit", [1, 3, 100])
    def test_the_before_cursor_returns_the_newer_refunds_oldest_first(
        self, store: Store, refunds: list[Refund], limit: int
    ) -> None:
        by_position = sorted(refunds, key=lambda r: (r.created, r.id))
        for cursor in (by_position[0], by_position[4], by_position[-1], refunds[0]):
            position = (cursor.created, cursor.id)
            for query in (
                RefundQuery(limit=limit, before=position),
                RefundQuery(limit=limit, charge=refunds[0].charge, before=position),
            ):
                assert store.list_refunds(query) == expected_refunds(refunds, query)
        oldest, newest = by_position[1], by_position[-2]
        between = RefundQuery(
            limit=limit, before=(oldest.created, oldest.id), after=(newest.created, newest.id)
        )
        assert store.list_refunds(between) == expected_refunds(refunds, between)

    def test_limit_caps_a_page_of_refunds(self, store: Store, refunds: list[Refund]) -> None:
        assert len(store.list_refunds(RefundQuery(limit=1))) == 1
        assert len(store.list_refunds(RefundQuery(limit=7))) == 7

    def test_an_empty_store_lists_no_refunds(self, store: Store) -> None:
        insert(store, paid_intent())
        assert store.list_refunds(RefundQuery(limit=10)) == []

    def test_a_commit_that_loses_indexes_none_of_its_refunds(self, store: Store) -> None:
        lost: list[Refund] = []

        def refused(commit: Commit) -> None:
            assert commit.intent is not None
            lost.extend(commit.intent.refunds)
            with pytest.raises(IntegrityError):
                store.commit(commit)

        stale = insert(store, paid_intent())
        moved_on = advance(store, stale)
        taken = paid_intent(id=stale.id)
        refused(Commit(next_version(stale, refunds=(make_refund(stale),)), stale.version))
        refused(Commit(taken.model_copy(update={"refunds": (make_refund(taken),)}), 0))
        claimed = insert(store, paid_intent())
        store.commit(Commit(None, 0, claim=make_claim(claimed.id, claimed.version)))
        refused(Commit(next_version(claimed, refunds=(make_refund(claimed),)), claimed.version))
        store.commit(Commit(None, 0, idempotency=make_record("taken")))
        keyed = next_version(moved_on, refunds=(make_refund(moved_on),))
        refused(Commit(keyed, moved_on.version, idempotency=make_record("taken")))

        assert len(lost) == 4
        assert [store.refund_owner(refund.id) for refund in lost] == [None] * 4
        assert store.list_refunds(RefundQuery(limit=100)) == []
        assert store.list_refunds(RefundQuery(limit=100, payment_intent=stale.id)) == []

    def test_a_refund_edited_in_later_versions_is_still_indexed_once(self, store: Store) -> None:
        intent = insert(store, paid_intent())
        pending = make_refund(intent, status=RefundStatus.PENDING)
        holding = add_refunds(store, intent, pending)
        settled = pending.model_copy(
            update={"status": RefundStatus.SUCCEEDED, "updated_at": T0 + 90}
        )
        later = advance(store, holding, refunds=(settled,))
        advance(store, later, metadata={"order": "42"})  # a change that leaves the refund alone

        assert store.refund_owner(pending.id) == intent.id
        entry = [(pending.id, intent.id)]
        assert store.list_refunds(RefundQuery(limit=10)) == entry
        assert store.list_refunds(RefundQuery(limit=10, payment_intent=intent.id)) == entry
        assert store.list_refunds(RefundQuery(limit=10, charge=pending.charge)) == entry

    # -- the event feed ------------------------------------------------------------------------

    def test_events_read_back_in_commit_order_with_positions_from_one(self, store: Store) -> None:
        a = insert(store, make_intent())
        b_intent = make_intent()
        b_events = (make_event(b_intent), make_event(b_intent, EventType.REQUIRES_ACTION))
        insert(store, b_intent, *b_events)
        a2 = advance(store, a)
        events = all_events(store)
        assert [(e.intent_id, e.intent_version) for e in events] == [
            (a.id, 1),
            (b_intent.id, 1),
            (b_intent.id, 1),
            (a.id, 2),
        ]
        assert [e.type for e in events[1:3]] == [e.type for e in b_events]
        assert [e.sequence for e in events] == [1, 2, 3, 4]
        for event in events:
            assert store.event_position(event.id) == event.sequence
        assert events[3].data == a2

    def test_events_keep_their_version_after_later_versions(self, store: Store) -> None:
        # Made as the service makes them: derived ids, the committed version as data, the
        # previous values of what changed. A store may rebuild old events' data from later rows.
        hold = Charge(
            id=new_id("ch"),
            amount=5_000,
            status="succeeded",
            payment_method="pm_card_visa",
            payment_method_type="card",
            created=T0 + 1,
        )
        first = make_intent(metadata={"order": "1"})
        versions = [
            first,
            next_version(
                first,
                status=Status.REQUIRES_CAPTURE,
                payment_method="pm_card_visa",
                amount_capturable=5_000,
                capture_before_at=T0 + 7 * DAY,
                charges=(hold,),
                updated_at=T0 + 1,
            ),
        ]
        versions.append(
            next_version(
                versions[-1],
                status=Status.SUCCEEDED,
                amount_capturable=0,
                amount_received=4_000,
                capture_before_at=None,
                charges=(hold.model_copy(update={"captured": True, "amount_captured": 4_000}),),
                updated_at=T0 + 2,
            )
        )
        versions.append(
            next_version(
                versions[-1], metadata=FrozenDict({"order": "1", "note": "n"}), description="d"
            )
        )
        emitted = (2, 1, 1, 0)  # events per version: the last one emits none
        expected: list[tuple[str, int]] = []
        for number, intent in enumerate(versions, 1):
            before = versions[number - 2] if number > 1 else None
            emits = tuple(
                Event(
                    id=event_id(intent.id, intent.version, index),
                    type=EventType.SUCCEEDED.value,
                    created=intent.updated_at,
                    intent_id=intent.id,
                    intent_version=intent.version,
                    data=intent,
                    previous_attributes=(
                        previous_attributes(before, intent) if before is not None else {}
                    ),
                )
                for index in range(emitted[number - 1])
            )
            store.commit(Commit(intent, number - 1, emits))
            expected.extend((event.id, number) for event in emits)
            insert(store, make_intent())  # other intents in between, as in any real store
        events = [event for event in all_events(store) if event.intent_id == first.id]
        assert [(event.id, event.intent_version) for event in events] == expected
        for event in events:
            assert event.data == versions[event.intent_version - 1]
            assert event.data.model_dump() == versions[event.intent_version - 1].model_dump()
            assert store.event_position(event.id) == event.sequence
        assert events[3].previous_attributes["amount_received"] == 0
        assert store.event_position(event_id(first.id, 4, 0)) is None

    def test_an_event_reads_back_as_committed_with_its_sequence(self, store: Store) -> None:
        intent = rich_intent()
        event = make_event(intent, EventType.AMOUNT_CAPTURABLE_UPDATED).model_copy(
            update={"previous_attributes": {"status": "requires_confirmation", "amount": 1}}
        )
        insert(store, intent, event)
        (stored,) = store.read_events(0, 10)
        assert stored == event.model_copy(update={"sequence": 1})

    def test_read_events_resumes_after_a_sequence_with_a_limit(self, store: Store) -> None:
        for _ in range(7):
            insert(store, make_intent())
        events = all_events(store)
        assert store.read_events(0, 3) == events[:3]
        assert store.read_events(3, 3) == events[3:6]
        assert store.read_events(6, 3) == events[6:]
        assert store.read_events(7, 3) == []
        assert store.read_events(100, 3) == []

    def test_an_unknown_event_has_no_position(self, store: Store) -> None:
        insert(store, make_intent())
        assert store.event_position("evt_missing") is None

    def test_a_reader_following_the_feed_during_writes_misses_and_repeats_nothing(
        self, store: Store
    ) -> None:
        writers, per_writer = self.racers - 1, 15
        done = threading.Event()
        seen: list[Event] = []

        def follow() -> None:
            position = 0
            while True:
                finished = done.is_set()  # read before the batch: the last pass sees everything
                batch = store.read_events(position, 50)
                for event in batch:
                    assert event.sequence == position + 1, "the feed skipped or repeated"
                    position += 1
                    seen.append(event)
                if finished and not batch:
                    return

        def write(_: int) -> None:
            for _ in range(per_writer):
                intent = insert(store, make_intent())
                advance(store, intent)

        reader = threading.Thread(target=follow)
        reader.start()
        results = race(writers, write)
        done.set()
        reader.join(timeout=60)
        assert not reader.is_alive()
        assert all(result is None for result in results), results
        assert len(seen) == writers * per_writer * 2
        assert len({event.id for event in seen}) == len(seen)
        assert seen == all_events(store)
        # Within one intent, the feed shows versions in the order they were committed.
        versions: dict[str, list[int]] = {}
        for event in seen:
            versions.setdefault(event.intent_id, []).append(event.intent_version)
        assert all(v == [1, 2] for v in versions.values())

    # -- concurrency ---------------------------------------------------------------------------

    def test_of_racing_commits_on_one_version_exactly_one_wins_each_time(
        self, store: Store
    ) -> None:
        current = insert(store, make_intent())
        for _ in range(5):
            base = current
            candidates = [next_version(base, description=f"racer {n}") for n in range(self.racers)]

            def attempt(n: int, base: PaymentIntent = base, candidates: Any = candidates) -> None:
                after = candidates[n]
                store.commit(Commit(after, base.version, (make_event(after),)))

            results = race(self.racers, attempt)
            winners = [n for n, result in enumerate(results) if result is None]
            assert len(winners) == 1, results
            assert all(isinstance(r, IntegrityError) for r in results if r is not None)
            current = candidates[winners[0]]
            assert store.load(current.id) == current
        events = all_events(store)
        assert [event.intent_version for event in events] == [1, 2, 3, 4, 5, 6]
        assert events[-1].data == current

    def test_of_racing_inserts_of_one_id_exactly_one_wins(self, store: Store) -> None:
        intent_id = new_id("pi")
        candidates = [make_intent(id=intent_id, amount=1000 + n) for n in range(self.racers)]
        results = race(self.racers, lambda n: insert(store, candidates[n]))
        winners = [n for n, result in enumerate(results) if isinstance(result, PaymentIntent)]
        assert len(winners) == 1, results
        assert store.load(intent_id) == candidates[winners[0]]
        assert len(all_events(store)) == 1

    def test_of_racing_requests_with_one_key_exactly_one_is_recorded(self, store: Store) -> None:
        records = [make_record("shared", created=T0 + n) for n in range(self.racers)]
        results = race(self.racers, lambda n: store.commit(Commit(None, 0, (), records[n])))
        winners = [n for n, result in enumerate(results) if result is None]
        assert len(winners) == 1, results
        assert store.idempotency_record("shared") == records[winners[0]]

    def test_of_racing_claims_on_one_intent_exactly_one_is_held(self, store: Store) -> None:
        intent = insert(store, make_intent())
        claims = [make_claim(intent.id, 1, f"att_{n}", key=f"key-{n}") for n in range(self.racers)]
        results = race(self.racers, lambda n: store.commit(Commit(None, 0, claim=claims[n])))
        winners = [n for n, result in enumerate(results) if result is None]
        assert len(winners) == 1, results
        assert all(isinstance(r, IntegrityError) for r in results if r is not None)
        assert store.claim(intent.id) == claims[winners[0]]
        held = [store.claim_for_key(f"key-{n}") is not None for n in range(self.racers)]
        assert held == [n in winners for n in range(self.racers)]

    def test_of_claims_and_updates_racing_on_one_version_exactly_one_wins_each_time(
        self, store: Store
    ) -> None:
        current = insert(store, make_intent())
        for round_ in range(4):
            base = current
            updates = [next_version(base, description=f"racer {n}") for n in range(self.racers)]
            claims = [
                make_claim(base.id, base.version, f"att_{round_}_{n}") for n in range(self.racers)
            ]

            def attempt(
                n: int,
                base: PaymentIntent = base,
                updates: list[PaymentIntent] = updates,
                claims: list[Claim] = claims,
            ) -> None:
                if n % 2:
                    store.commit(Commit(updates[n], base.version, (make_event(updates[n]),)))
                else:
                    store.commit(Commit(None, 0, claim=claims[n]))

            results = race(self.racers, attempt)
            winners = [n for n, result in enumerate(results) if result is None]
            assert len(winners) == 1, results
            assert all(isinstance(r, IntegrityError) for r in results if r is not None)
            (winner,) = winners
            if winner % 2:
                assert store.claim(base.id) is None
                current = updates[winner]
            else:
                assert store.claim(base.id) == claims[winner]
                assert store.load(base.id) == base
                current = updates[winner]  # the claimer records its outcome
                store.commit(Commit(current, base.version, settles=claims[winner]))
            assert store.load(base.id) == current

    def test_of_a_claim_and_records_racing_for_one_key_exactly_one_wins(self, store: Store) -> None:
        for round_ in range(8):
            start = T0 + round_ * 10 * DAY  # every record of an earlier round has expired by then
            intents = [insert(store, make_intent()) for _ in range(self.racers)]
            claim = make_claim(intents[0].id, 1, f"att_{round_}", key="shared", created=start)
            records = [make_record("shared", created=start + n) for n in range(self.racers)]

            def attempt(
                n: int,
                intents: list[PaymentIntent] = intents,
                claim: Claim = claim,
                records: list[IdempotencyRecord] = records,
            ) -> None:
                if n == 0:
                    store.commit(Commit(None, 0, claim=claim))
                else:
                    changed = next_version(intents[n])
                    store.commit(Commit(changed, 1, (make_event(changed),), records[n]))

            results = race(self.racers, attempt)
            winners = [n for n, result in enumerate(results) if result is None]
            assert len(winners) == 1, results
            assert all(isinstance(r, IntegrityError) for r in results if r is not None)
            if winners == [0]:
                assert store.claim_for_key("shared") == claim
                expired = store.idempotency_record("shared")  # an earlier round's, if any
                assert expired is None or expired.expires_at <= start
                store.commit(Commit(None, 0, settles=claim))  # free the key for the next round
            else:
                assert store.claim_for_key("shared") is None
                assert store.idempotency_record("shared") == records[winners[0]]

    # -- through the service -------------------------------------------------------------------

    @pytest.fixture
    def clock(self) -> ManualClock:
        return ManualClock(T0)

    @pytest.fixture
    def service(self, store: Store, clock: ManualClock) -> PaymentIntents:
        return PaymentIntents(store, clock)

    def test_a_manual_capture_checkout_runs_end_to_end(
        self, service: PaymentIntents, store: Store, clock: ManualClock
    ) -> None:
        created = service.create(
            amount=5000, currency="eur", customer="cus_shop", capture_method="manual"
        )
        clock.advance(10)
        held = service.confirm(created.id, payment_method="pm_card_visa")
        assert held.status is Status.REQUIRES_CAPTURE
        assert held.amount_capturable == 5000
        clock.advance(10)
        paid = service.capture(created.id, amount_to_capture=4000)
        assert (paid.status, paid.amount_received, paid.version) == (Status.SUCCEEDED, 4000, 3)
        assert service.retrieve(created.id) == paid == store.load(created.id)
        assert service.list(customer="cus_shop").data == [paid]
        types = [event.type for event in service.events().data]
        assert types == [
            EventType.CREATED,
            EventType.AMOUNT_CAPTURABLE_UPDATED,
            EventType.SUCCEEDED,
        ]

    def test_an_idempotent_retry_returns_the_first_result_without_acting(
        self, service: PaymentIntents, store: Store
    ) -> None:
        first = service.create(amount=1500, currency="usd", idempotency_key="order-1")
        again = service.create(amount=1500, currency="usd", idempotency_key="order-1")
        assert again == first
        assert len(service.list().data) == 1
        assert len(all_events(store)) == 1

    def test_a_declined_confirm_is_stored_and_replayed_as_the_same_error(
        self, service: PaymentIntents
    ) -> None:
        intent = service.create(amount=1500, currency="usd")
        errors: list[CardError] = []
        for _ in range(2):
            with pytest.raises(CardError) as raised:
                service.confirm(
                    intent.id,
                    payment_method="pm_card_visa_chargeDeclined",
                    idempotency_key="confirm-1",
                )
            errors.append(raised.value)
        assert errors[0].to_dict() == errors[1].to_dict()
        assert errors[0].code == "card_declined"
        assert service.retrieve(intent.id).version == 2

    def test_concurrent_captures_collect_once(self, service: PaymentIntents) -> None:
        intent = service.create(
            amount=8000,
            currency="usd",
            payment_method="pm_card_visa",
            capture_method="manual",
            confirm=True,
        )
        results = race(self.racers, lambda _: service.capture(intent.id))
        paid = [r for r in results if isinstance(r, PaymentIntent)]
        refused = [r for r in results if isinstance(r, InvalidRequestError)]
        assert len(paid) == 1, results
        assert len(refused) == self.racers - 1, results
        assert all(e.code == "payment_intent_unexpected_state" for e in refused)
        final = service.retrieve(intent.id)
        assert (final.amount_received, final.version) == (8000, 2)
        assert [e.type for e in service.events().data].count(EventType.SUCCEEDED) == 1

    def test_a_lapsed_hold_is_swept_through_the_index(
        self, service: PaymentIntents, clock: ManualClock
    ) -> None:
        held = service.create(
            amount=8000,
            currency="usd",
            payment_method="pm_card_visa",
            capture_method="manual",
            confirm=True,
        )
        assert held.capture_before_at is not None
        clock.set(held.capture_before_at)
        (expired,) = service.expire_authorizations()
        assert expired.status is Status.CANCELED
        assert expired.cancellation_reason is CancellationReason.AUTOMATIC
        assert service.expire_authorizations() == []
        assert service.retrieve(held.id) == expired

    def test_a_keyed_request_refused_after_its_duplicate_won_replays_the_winner(
        self, store: Store, clock: ManualClock
    ) -> None:
        """The duplicate commits between this request's look at its key and its load."""
        other = PaymentIntents(store, clock)
        held = other.create(
            amount=8000,
            currency="usd",
            payment_method="pm_card_visa",
            capture_method="manual",
            confirm=True,
        )
        interleaved = _LoadHook(store, lambda: other.capture(held.id, idempotency_key="cap-1"))
        this = PaymentIntents(cast(Store, interleaved), clock)
        replayed = this.capture(held.id, idempotency_key="cap-1")
        assert interleaved.fired
        assert replayed == other.retrieve(held.id)
        assert replayed.amount_received == 8000
        assert [e.type for e in all_events(store)].count(EventType.SUCCEEDED) == 1


def _or_data_error(read: Callable[[], object]) -> object:
    """What ``read`` returns, or the DataError class when it raises one."""
    try:
        return read()
    except DataError:
        return DataError


class BatchStoreContract(StoreContract):
    """Everything of :class:`StoreContract`, and ``commit_many``: subclass it instead for a store
    that is a :class:`~payment_intent.ports.BatchStore`."""

    @abstractmethod
    def make_store(self, tmp_path: Path) -> BatchStore:
        """A new, empty store. ``tmp_path`` is a fresh directory the store may keep files in."""

    def test_the_store_satisfies_the_batch_store_protocol(self, store: BatchStore) -> None:
        assert isinstance(store, BatchStore)

    def test_a_batch_writes_each_commit_as_if_alone_and_reports_each_conflict_in_place(
        self, store: BatchStore
    ) -> None:
        held = insert(store, make_intent(status=Status.REQUIRES_CAPTURE))
        raced = insert(store, make_intent())
        claimed = insert(store, make_intent())
        store.commit(Commit(None, 0, idempotency=make_record("taken")))
        store.commit(Commit(None, 0, claim=make_claim(claimed.id, 1)))
        moved_on = advance(store, raced)  # raced is now one version behind

        new = make_intent()
        expired = next_version(held, status=Status.CANCELED)
        stale = next_version(raced, status=Status.CANCELED)
        unsettled = next_version(claimed, status=Status.CANCELED)
        results = store.commit_many(
            [
                Commit(new, 0, (make_event(new),), make_record("fresh")),
                Commit(stale, raced.version, (make_event(stale, EventType.CANCELED),)),
                Commit(expired, held.version, (make_event(expired, EventType.CANCELED),)),
                Commit(None, 0, idempotency=make_record("taken")),
                Commit(next_version(new), 5),  # a version that cannot follow the expected one
                Commit(unsettled, claimed.version, (make_event(unsettled),)),
            ]
        )

        assert [result is None for result in results] == [True, False, True, False, False, False]
        assert all(isinstance(r, IntegrityError) for r in results if r is not None)
        assert raced.id in str(results[1])
        assert "taken" in str(results[3])
        assert store.load(new.id) == new
        assert store.load(held.id) == expired
        assert store.load(raced.id) == moved_on
        assert store.load(claimed.id) == claimed
        assert store.idempotency_record("fresh") == make_record("fresh")
        feed = all_events(store)
        assert [event.sequence for event in feed] == list(range(1, len(feed) + 1))
        assert [(event.intent_id, event.type) for event in feed[-2:]] == [
            (new.id, EventType.CREATED.value),
            (held.id, EventType.CANCELED.value),
        ]

    def test_a_batch_indexes_the_refunds_of_the_commits_it_writes_only(
        self, store: BatchStore
    ) -> None:
        refunded = insert(store, paid_intent())
        raced = insert(store, paid_intent())
        advance(store, raced)  # raced is now one version behind
        new = paid_intent()
        new = new.model_copy(update={"refunds": (make_refund(new),)})
        kept = make_refund(refunded)
        stale = next_version(raced, refunds=(make_refund(raced),))

        results = store.commit_many(
            [
                Commit(next_version(refunded, refunds=(kept,)), refunded.version),
                Commit(stale, raced.version),
                Commit(new, 0),
            ]
        )

        assert [result is None for result in results] == [True, False, True]
        assert store.refund_owner(kept.id) == refunded.id
        assert store.refund_owner(new.refunds[0].id) == new.id
        assert store.refund_owner(stale.refunds[0].id) is None
        indexed = {refund_id for refund_id, _ in store.list_refunds(RefundQuery(limit=10))}
        assert indexed == {kept.id, new.refunds[0].id}

    def test_an_empty_batch_writes_nothing(self, store: BatchStore) -> None:
        assert store.commit_many([]) == []
        assert all_events(store) == []


class _LoadHook:
    """A store that runs ``hook`` once, just before its first ``load``: a chosen interleaving."""

    def __init__(self, inner: Store, hook: Callable[[], object]) -> None:
        self.inner, self.hook, self.fired = inner, hook, False

    def load(self, intent_id: str) -> PaymentIntent | None:
        if not self.fired:
            self.fired = True
            self.hook()
        return self.inner.load(intent_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
