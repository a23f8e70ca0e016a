"""Reads, the event feed, client-side retrieval and threads: SPEC sections 3, 6 and 8."""

from __future__ import annotations

import copy
import pickle
import threading

import pytest

from payment_intent import ClientPaymentIntent, ManualClock, PaymentIntents, Status
from payment_intent.domain.currencies import in_major_units
from payment_intent.errors import InvalidRequestError, PaymentIntentError

# Every test here runs over each store the kit offers (see tests/conftest.py).
pytestmark = pytest.mark.payment_intent_stores("memory", "sqlite")


def make(svc: PaymentIntents, n: int, **params: object) -> list[str]:
    return [svc.create(amount=1_000 + i, currency="eur", **params).id for i in range(n)]  # type: ignore[arg-type]


# -- retrieve ----------------------------------------------------------------------------------


def test_retrieve_with_the_client_secret_shows_only_public_fields(svc: PaymentIntents) -> None:
    pi = svc.create(amount=5_000, currency="eur", customer="cus_1", metadata={"private": "yes"})
    public = svc.retrieve(pi.id, client_secret=pi.client_secret)
    assert isinstance(public, ClientPaymentIntent)
    fields = public.model_dump()
    assert "customer" not in fields
    assert "metadata" not in fields
    assert "charges" not in fields
    assert (fields["id"], fields["amount"], fields["status"]) == (
        pi.id,
        5_000,
        "requires_payment_method",
    )


@pytest.mark.parametrize("secret", ["", "pi_x_secret_wrong", "z" * 60])
def test_retrieve_with_a_wrong_client_secret_is_refused(svc: PaymentIntents, secret: str) -> None:
    pi = svc.create(amount=5_000, currency="eur")
    with pytest.raises(InvalidRequestError) as raised:
        svc.retrieve(pi.id, client_secret=secret)
    assert (raised.value.code, raised.value.param) == ("parameter_invalid", "client_secret")
    assert raised.value.payment_intent is None, "a refused browser learns nothing of the intent"


# -- list --------------------------------------------------------------------------------------


def test_list_is_newest_first_and_pages_with_both_cursors(
    svc: PaymentIntents, clock: ManualClock
) -> None:
    ids = []
    for i in range(25):
        ids.append(svc.create(amount=1_000 + i, currency="eur").id)
        if i % 3 == 0:
            clock.advance(1)
    newest_first = list(reversed(ids))
    first = svc.list(limit=10)
    assert [p.id for p in first] == newest_first[:10]
    assert first.has_more
    second = svc.list(limit=10, starting_after=first.data[-1].id)
    assert [p.id for p in second] == newest_first[10:20]
    assert second.has_more
    third = svc.list(limit=10, starting_after=second.data[-1].id)
    assert [p.id for p in third] == newest_first[20:]
    assert not third.has_more
    back = svc.list(limit=10, ending_before=third.data[0].id)
    assert [p.id for p in back] == newest_first[10:20]
    assert back.has_more
    assert not svc.list(limit=10, ending_before=first.data[0].id).data
    assert len(svc.list().data) == 10, "the default limit is 10"


def test_list_filters_by_customer_status_and_created(
    svc: PaymentIntents, clock: ManualClock
) -> None:
    start = clock.now()
    make(svc, 3, customer="cus_a")
    clock.advance(100)
    paid = svc.create(
        amount=5_000, currency="eur", customer="cus_a", payment_method="pm_card_visa", confirm=True
    )
    make(svc, 2, customer="cus_b")
    assert len(svc.list(customer="cus_a").data) == 4
    assert [p.id for p in svc.list(customer="cus_a", status="succeeded")] == [paid.id]
    assert len(svc.list(status="requires_payment_method").data) == 5
    assert len(svc.list(created=start).data) == 3
    assert len(svc.list(created={"gt": start}).data) == 3
    assert len(svc.list(created={"gte": start, "lt": start + 100}).data) == 3
    assert len(svc.list(created={"lte": start + 100}, customer="cus_b").data) == 2
    assert svc.list(customer="cus_nobody").data == []


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"status": "paid"}, "status"),
        ({"created": {"after": 5}}, "created[after]"),
        ({"starting_after": "pi_a", "ending_before": "pi_b"}, "ending_before"),
    ],
)
def test_list_refuses_bad_parameters(
    svc: PaymentIntents, params: dict[str, object], param: str
) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        svc.list(**params)  # type: ignore[arg-type]
    assert raised.value.param == param


def test_list_with_an_unknown_cursor_is_resource_missing(svc: PaymentIntents) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        svc.list(starting_after="pi_unknown")
    assert (raised.value.code, raised.value.param) == ("resource_missing", "starting_after")


# -- events ------------------------------------------------------------------------------------


def test_events_come_back_in_commit_order_from_a_cursor(svc: PaymentIntents) -> None:
    pi = svc.create(amount=5_000, currency="eur", capture_method="manual")
    svc.confirm(pi.id, payment_method="pm_card_visa")
    svc.capture(pi.id, amount_to_capture=4_000)
    events = svc.events().data
    assert [e.type for e in events] == [
        "payment_intent.created",
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
    ]
    assert [e.sequence for e in events] == [1, 2, 3]
    assert [e.intent_version for e in events] == [1, 2, 3]
    succeeded = events[-1]
    assert succeeded.data.status is Status.SUCCEEDED
    assert succeeded.previous_attributes["amount_received"] == 0
    assert succeeded.previous_attributes["status"] == "requires_capture"
    page = svc.events(starting_after=events[0].id, limit=1)
    assert [e.id for e in page] == [events[1].id]
    assert page.has_more
    assert svc.events(starting_after=events[-1].id).data == []


def test_events_refuse_an_unknown_cursor(svc: PaymentIntents) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        svc.events(starting_after="evt_unknown")
    assert raised.value.code == "resource_missing"


# -- a failed command changes nothing ----------------------------------------------------------


@pytest.mark.payment_intent_stores("memory")  # snapshot() is the in-memory store's
def test_a_refused_command_leaves_the_store_byte_for_byte_unchanged(svc: PaymentIntents) -> None:
    pi = svc.create(amount=5_000, currency="eur", payment_method="pm_card_visa", confirm=True)
    store = svc.store
    before = store.snapshot()  # type: ignore[attr-defined]
    for attempt in (
        lambda: svc.capture(pi.id),
        lambda: svc.cancel(pi.id),
        lambda: svc.update(pi.id, amount=10),
        lambda: svc.confirm(pi.id, idempotency_key="k"),
        lambda: svc.create(amount=5_000, currency="xyz", idempotency_key="k2"),
    ):
        with pytest.raises(PaymentIntentError):
            attempt()
    assert store.snapshot() == before  # type: ignore[attr-defined]


# -- threads -----------------------------------------------------------------------------------


def test_concurrent_captures_collect_once(svc: PaymentIntents) -> None:
    holds = [
        svc.create(
            amount=10_000,
            currency="eur",
            capture_method="manual",
            payment_method="pm_card_visa",
            confirm=True,
        ).id
        for _ in range(20)
    ]
    outcomes: list[tuple[str, str]] = []
    lock = threading.Lock()

    def worker(amount: int) -> None:
        for intent_id in holds:
            try:
                svc.capture(intent_id, amount_to_capture=amount)
                result = "captured"
            except InvalidRequestError as error:
                result = error.code
            with lock:
                outcomes.append((intent_id, result))

    threads = [threading.Thread(target=worker, args=(1_000 + i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for intent_id in holds:
        results = [r for i, r in outcomes if i == intent_id]
        assert results.count("captured") == 1
        assert set(results) <= {"captured", "payment_intent_unexpected_state"}
        pi = svc.retrieve(intent_id)
        assert pi.version == 2
        assert 1_000 <= pi.amount_received <= 1_005
    succeeded = [e for e in svc.events(limit=1000).data if e.type == "payment_intent.succeeded"]
    assert len(succeeded) == len(holds)


def test_an_events_previous_attributes_are_the_changed_fields_as_they_were_before() -> None:
    from payment_intent.domain.events import changed
    from payment_intent.domain.model import Charge, NextAction, PaymentError

    charge = Charge(
        id="ch_1",
        amount=5,
        status="failed",
        payment_method="pm",
        payment_method_type="card",
        failure_code="card_declined",
        created=1,
    )
    error = PaymentError(type="card_error", code="card_declined", message="m", decline_code="x")
    action = NextAction(redirect_url="https://a.example/r", return_url=None)
    svc = PaymentIntents()
    before = svc.create(amount=1000, currency="usd", metadata={"a": "b"})
    after = before.evolve(
        charges=(charge,),
        last_payment_error=error,
        next_action=action,
        metadata={"c": "d"},
        version=2,
        updated_at=before.updated_at + 5,
    )
    # Bookkeeping (version, updated_at) is not business state, and is not reported.
    assert changed(before, after) == {
        "charges": [],
        "last_payment_error": None,
        "next_action": None,
        "metadata": {"a": "b"},
    }
    assert changed(after, before)["charges"] == [charge.model_dump(mode="json")]


def test_an_event_does_not_report_the_authenticated_method_or_the_refunds() -> None:
    """Refunds have events of their own, and which method passed 3-D Secure is the library's
    bookkeeping: neither is in a payment intent event's ``previous_attributes``."""
    from payment_intent.domain.events import changed
    from payment_intent.domain.model import Refund

    before = PaymentIntents().create(amount=1000, currency="usd")
    refund = Refund(
        id="re_1",
        amount=500,
        currency="usd",
        payment_intent=before.id,
        charge="ch_1",
        status="succeeded",
        created=before.created,
        updated_at=before.created,
    )
    after = before.evolve(authenticated_payment_method="pm_card_visa", refunds=(refund,))
    assert changed(before, after) == {}


def test_an_intent_and_its_metadata_cannot_be_changed_in_place() -> None:
    """A store may hand out the very intent it holds: nobody can change it by accident."""
    intent = PaymentIntents().create(amount=1000, currency="usd", metadata={"order": "o-1"})
    with pytest.raises(ValueError, match="frozen"):
        intent.amount = 1  # type: ignore[misc]
    with pytest.raises(TypeError, match="read-only"):
        intent.metadata["order"] = "o-2"
    assert copy.copy(intent.metadata) is intent.metadata
    assert copy.deepcopy(intent.metadata) is intent.metadata
    assert pickle.loads(pickle.dumps(intent)) == intent


def test_the_latest_charge_is_the_newest_attempt() -> None:
    svc = PaymentIntents()
    intent = svc.create(amount=1000, currency="usd")
    with pytest.raises(PaymentIntentError):
        svc.confirm(intent.id, payment_method="pm_card_visa_chargeDeclined")
    paid = svc.confirm(intent.id, payment_method="pm_card_visa")
    assert [charge.status for charge in paid.charges] == ["failed", "succeeded"]
    assert paid.latest_charge == paid.charges[-1]


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (4999, "eur", "49.99 EUR"),
        (5000, "jpy", "5000 JPY"),
        (1500, "kwd", "1.500 KWD"),
        (12345, "clf", "1.2345 CLF"),
    ],
)
def test_an_amount_reads_in_the_currency_s_major_unit(
    amount: int, currency: str, shown: str
) -> None:
    assert in_major_units(amount, currency) == shown


def test_an_empty_metadata_removes_every_key() -> None:
    svc = PaymentIntents()
    intent = svc.create(amount=1000, currency="usd", metadata={"order": "o-1", "shop": "s"})
    assert svc.update(intent.id, metadata="").metadata == {}
