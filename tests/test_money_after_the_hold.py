"""Money after the hold: refunds, multicapture, overcapture, incremental and extended authorization.

Each test is one rule of the issue, read through the Python API over the in-memory store.
"""

from __future__ import annotations

from typing import Any

import pytest

from payment_intent import PaymentIntents
from payment_intent.adapters.clocks import ManualClock
from payment_intent.adapters.memory import InMemoryStore
from payment_intent.adapters.simulated import SimulatedProcessor
from payment_intent.adapters.sqlite import SQLiteStore
from payment_intent.domain.errors import CardError, InvalidRequestError
from payment_intent.domain.model import PaymentIntent
from payment_intent.domain.outcomes import Attempt, Declined, Outcome
from tests.reference_model import REFUND_REASONS

DAY = 24 * 3600
EVERYTHING = {
    "card": {
        "request_multicapture": "if_available",
        "request_overcapture": "if_available",
        "request_incremental_authorization": "if_available",
        "request_extended_authorization": "if_available",
    }
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_700_000_000)


@pytest.fixture
def service(clock: ManualClock) -> PaymentIntents:
    return PaymentIntents(InMemoryStore(), clock)


def paid(service: PaymentIntents, amount: int = 1000, pm: str = "pm_card_visa") -> PaymentIntent:
    return service.create(amount=amount, currency="usd", payment_method=pm, confirm=True)


def held(
    service: PaymentIntents,
    amount: int = 1000,
    pm: str = "pm_card_visa",
    options: dict[str, Any] | None = None,
) -> PaymentIntent:
    return service.create(
        amount=amount,
        currency="usd",
        payment_method=pm,
        capture_method="manual",
        confirm=True,
        payment_method_options=EVERYTHING if options is None else options,
    )


def collected_by_bank(service: PaymentIntents, method: str) -> PaymentIntent:
    """A bank payment, settled: its refunds stay pending until they settle in turn."""
    intent = service.create(
        amount=1000,
        currency="eur",
        payment_method_types=[method],
        payment_method=f"pm_{method}",
        confirm=True,
    )
    return service.settle(intent.id)


def event_types(service: PaymentIntents) -> list[str]:
    return [event.type for event in service.events(limit=100).data]


# -- refunds -----------------------------------------------------------------------------------


def test_partial_refunds_add_up_to_what_was_collected_and_no_further(
    service: PaymentIntents,
) -> None:
    intent = paid(service)
    first = service.refund(intent.id, amount=300, reason="requested_by_customer")
    second = service.refund(intent.id, amount=700)
    assert (first.status, second.status) == ("succeeded", "succeeded")
    assert first.id.startswith("re_")
    assert first.charge == intent.charges[-1].id
    with pytest.raises(InvalidRequestError) as refused:
        service.refund(intent.id, amount=1)
    assert refused.value.code == "charge_already_refunded"
    after = service.retrieve(intent.id)
    assert after.status == "succeeded"
    assert after.charges[-1].amount_refunded == 1000
    assert after.charges[-1].refunded


def test_a_refund_over_what_is_left_is_refused_with_the_amounts(service: PaymentIntents) -> None:
    intent = paid(service)
    service.refund(intent.id, amount=600)
    with pytest.raises(InvalidRequestError) as refused:
        service.refund(intent.id, amount=500)
    assert (refused.value.code, refused.value.param) == ("amount_too_large", "amount")
    assert "(500)" in str(refused.value)
    assert "(400)" in str(refused.value)
    assert len(service.list_refunds(payment_intent=intent.id)) == 1


def test_a_refund_without_amount_sends_back_all_that_is_left(service: PaymentIntents) -> None:
    intent = paid(service)
    service.refund(intent.id, amount=250)
    assert service.refund(intent.id).amount == 750


def test_an_uncaptured_hold_is_released_by_cancel_not_refunded(service: PaymentIntents) -> None:
    intent = held(service)
    with pytest.raises(InvalidRequestError) as refused:
        service.refund(intent.id)
    assert (refused.value.code, refused.value.param) == ("charge_not_captured", "payment_intent")


def test_a_bank_refund_stays_pending_until_settled(service: PaymentIntents) -> None:
    intent = collected_by_bank(service, "open_banking")
    pending = service.refund(intent.id, amount=400)
    assert pending.status == "pending"
    assert service.retrieve(intent.id).charges[-1].amount_refunded == 400
    settled = service.settle_refund(pending.id, succeed=False)
    assert (settled.status, settled.failure_reason) == ("failed", "declined")
    assert service.retrieve(intent.id).charges[-1].amount_refunded == 0
    assert "refund.failed" in event_types(service)


def test_a_pending_refund_can_be_canceled_and_its_money_refunded_again(
    service: PaymentIntents,
) -> None:
    intent = collected_by_bank(service, "direct_debit")
    pending = service.refund(intent.id)
    assert service.cancel_refund(pending.id).status == "canceled"
    assert service.refund(intent.id).amount == 1000
    with pytest.raises(InvalidRequestError) as refused:
        service.cancel_refund(pending.id)
    assert refused.value.code == "refund_unexpected_state"


def test_the_refund_fail_card_makes_a_failed_refund(service: PaymentIntents) -> None:
    intent = paid(service, pm="pm_card_refundFail")
    failed = service.refund(intent.id, amount=100)
    assert failed.status == "failed"
    assert service.retrieve(intent.id).charges[-1].amount_refunded == 0
    assert event_types(service)[-2:] == ["refund.created", "refund.failed"]


def test_refunds_are_found_by_id_listed_newest_first_and_edited(
    service: PaymentIntents, clock: ManualClock
) -> None:
    intent = paid(service)
    made = []
    for amount in (100, 200, 300):
        made.append(service.refund(intent.id, amount=amount))
        clock.advance(1)
    assert service.retrieve_refund(made[1].id) == made[1]
    assert [r.id for r in service.list_refunds(payment_intent=intent.id)] == [
        r.id for r in reversed(made)
    ]
    page = service.list_refunds(charge=intent.charges[-1].id, limit=1, starting_after=made[2].id)
    assert [r.id for r in page] == [made[1].id]
    assert page.has_more
    edited = service.update_refund(made[0].id, metadata={"ticket": "T-9"})
    assert edited.metadata == {"ticket": "T-9"}
    assert edited.amount == 100
    assert "refund.updated" in event_types(service)


def test_a_refund_keyed_twice_refunds_once(service: PaymentIntents) -> None:
    intent = paid(service)
    first = service.refund(intent.id, amount=100, idempotency_key="r-1")
    assert service.refund(intent.id, amount=100, idempotency_key="r-1") == first
    assert len(service.list_refunds(payment_intent=intent.id)) == 1


def test_refund_events(service: PaymentIntents) -> None:
    intent = paid(service)
    refund = service.refund(intent.id, amount=100)
    events = service.events(limit=100).data
    assert [e.type for e in events][-2:] == ["refund.created", "charge.refunded"]
    assert all(e.refund == refund.id for e in events[-2:])


def test_payrex_refund_reasons_are_payrex_s(service: PaymentIntents) -> None:
    payrex = PaymentIntents(InMemoryStore(), service.clock, profile="payrex")
    intent = payrex.create(amount=5000, currency="php", payment_method="pm_card_visa", confirm=True)
    assert payrex.refund(intent.id, amount=2000, reason="product_out_of_stock").amount == 2000
    with pytest.raises(InvalidRequestError) as refused:
        payrex.refund(intent.id, amount=100, reason="duplicate")
    assert refused.value.param == "reason"


def test_a_payrex_refund_in_another_currency_is_refused_naming_it(
    service: PaymentIntents,
) -> None:
    payrex = PaymentIntents(InMemoryStore(), service.clock, profile="payrex")
    intent = payrex.create(amount=5000, currency="php", payment_method="pm_card_visa", confirm=True)
    assert payrex.refund(intent.id, amount=100, currency="PHP").amount == 100
    with pytest.raises(InvalidRequestError) as refused:
        payrex.refund(intent.id, amount=100, currency="usd")
    assert refused.value.param == "currency"


@pytest.mark.parametrize(
    ("profile", "reason"),
    [
        (profile, reason)
        for profile, reasons in REFUND_REASONS.items()
        for reason in sorted(reasons)
    ],
)
def test_a_refund_keeps_each_reason_its_provider_offers(
    clock: ManualClock, profile: str, reason: str
) -> None:
    service = PaymentIntents(InMemoryStore(), clock, profile=profile)
    currency = "php" if profile == "payrex" else "usd"
    intent = service.create(
        amount=5000, currency=currency, payment_method="pm_card_visa", confirm=True
    )
    assert service.refund(intent.id, reason=reason).reason == reason


# -- multicapture ------------------------------------------------------------------------------


def test_multicapture_collects_in_parts_and_the_final_capture_releases_the_rest(
    service: PaymentIntents,
) -> None:
    intent = held(service)
    assert intent.charges[-1].multicapture == "available"
    part = service.capture(intent.id, amount_to_capture=300, final_capture=False)
    assert (part.status, part.amount_capturable, part.amount_received) == (
        "requires_capture",
        700,
        300,
    )
    service.refund(intent.id, amount=100)  # between captures, up to what was collected
    done = service.capture(intent.id, amount_to_capture=200)
    assert (done.status, done.amount_capturable, done.amount_received) == ("succeeded", 0, 500)
    hold = done.charges[-1]
    assert (hold.amount_captured, hold.amount_refunded, hold.captures) == (500, 600, 2)
    with pytest.raises(InvalidRequestError):
        service.capture(intent.id, amount_to_capture=100)


def test_a_feature_asked_never_is_reported_unavailable(service: PaymentIntents) -> None:
    intent = held(service, options={"card": {"request_multicapture": "never"}})
    assert (intent.charges[-1].multicapture, intent.charges[-1].overcapture) == (
        "unavailable",
        None,
    )


def test_final_capture_false_needs_multicapture(service: PaymentIntents) -> None:
    intent = held(service, pm="pm_card_visa_debit")
    assert intent.charges[-1].multicapture == "unavailable"
    with pytest.raises(InvalidRequestError) as refused:
        service.capture(intent.id, amount_to_capture=100, final_capture=False)
    assert refused.value.param == "final_capture"
    assert service.retrieve(intent.id).amount_capturable == 1000


def test_a_hold_takes_at_most_fifty_captures(service: PaymentIntents) -> None:
    intent = held(service, amount=10_000)
    for _ in range(50):
        service.capture(intent.id, amount_to_capture=1, final_capture=False)
    with pytest.raises(InvalidRequestError) as refused:
        service.capture(intent.id, amount_to_capture=1, final_capture=False)
    assert refused.value.code == "payment_intent_unexpected_state"
    assert "50 times" in refused.value.message
    assert service.retrieve(intent.id).amount_received == 50


def test_the_window_closing_on_a_partly_captured_hold_succeeds_for_that_part(
    service: PaymentIntents, clock: ManualClock
) -> None:
    intent = held(service)
    service.capture(intent.id, amount_to_capture=400, final_capture=False)
    clock.advance(31 * DAY)
    closed = service.retrieve(intent.id)
    assert (closed.status, closed.amount_received, closed.amount_capturable) == (
        "succeeded",
        400,
        0,
    )
    assert closed.cancellation_reason is None
    released = closed.refunds[-1]
    assert (released.reason, released.amount) == ("expired_uncaptured_charge", 600)
    [swept] = service.expire_authorizations()
    assert swept == closed
    assert service.retrieve_refund(released.id) == released


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_before_the_sweep_a_list_filters_a_closed_hold_as_it_ends(
    clock: ManualClock, tmp_path: Any, kind: str
) -> None:
    store = InMemoryStore() if kind == "memory" else SQLiteStore(tmp_path / "intents.db")
    service = PaymentIntents(store, clock)
    partly = held(service)
    service.capture(partly.id, amount_to_capture=400, final_capture=False)
    untouched = held(service)
    clock.advance(31 * DAY)
    assert [i.id for i in service.list(status="succeeded")] == [partly.id]
    assert [i.id for i in service.list(status="canceled")] == [untouched.id]
    assert list(service.list(status="requires_capture")) == []


def test_the_window_closing_on_nothing_captured_cancels(
    service: PaymentIntents, clock: ManualClock
) -> None:
    intent = held(service, options={})
    clock.advance(7 * DAY)
    closed = service.retrieve(intent.id)
    assert (closed.status, closed.cancellation_reason) == ("canceled", "automatic")


def test_the_window_closing_announces_success_for_part_captured_and_cancel_for_nothing(
    service: PaymentIntents, clock: ManualClock
) -> None:
    part_captured = held(service)
    service.capture(part_captured.id, amount_to_capture=400, final_capture=False)
    nothing_captured = held(service, options={})
    clock.advance(31 * DAY)
    service.expire_authorizations()

    def outcome(intent: PaymentIntent) -> list[str]:
        ends = {"payment_intent.succeeded", "payment_intent.canceled"}
        events = service.events(limit=100).data
        return [e.type for e in events if e.intent_id == intent.id and e.type in ends]

    assert outcome(part_captured) == ["payment_intent.succeeded"]
    assert outcome(nothing_captured) == ["payment_intent.canceled"]


def test_a_cancel_after_a_partial_capture_closes_the_hold(service: PaymentIntents) -> None:
    intent = held(service)
    service.capture(intent.id, amount_to_capture=250, final_capture=False)
    closed = service.cancel(intent.id)
    assert (closed.status, closed.amount_received, closed.charges[-1].amount_refunded) == (
        "succeeded",
        250,
        750,
    )


# -- overcapture -------------------------------------------------------------------------------


def test_overcapture_takes_up_to_the_granted_maximum(service: PaymentIntents) -> None:
    intent = held(service)
    ceiling = intent.charges[-1].maximum_amount_capturable
    assert ceiling == 1200
    with pytest.raises(InvalidRequestError) as refused:
        service.capture(intent.id, amount_to_capture=1201)
    assert (refused.value.code, refused.value.param) == ("amount_too_large", "amount_to_capture")
    captured = service.capture(intent.id, amount_to_capture=1200)
    assert (captured.amount_received, captured.charges[-1].amount_captured) == (1200, 1200)
    assert service.refund(captured.id).amount == 1200


def test_without_overcapture_a_capture_above_the_amount_is_too_large(
    service: PaymentIntents,
) -> None:
    intent = held(service, options={})
    with pytest.raises(InvalidRequestError) as refused:
        service.capture(intent.id, amount_to_capture=1001)
    assert refused.value.code == "amount_too_large"


# -- incremental authorization -----------------------------------------------------------------


def test_an_increment_raises_the_hold_and_keeps_its_window(service: PaymentIntents) -> None:
    intent = held(service)
    raised = service.increment_authorization(intent.id, amount=1500, description="late tip")
    assert (raised.amount, raised.amount_capturable, raised.description) == (1500, 1500, "late tip")
    assert raised.status == "requires_capture", "the raised hold still waits for its capture"
    assert raised.capture_before_at == intent.capture_before_at
    assert raised.charges[-1].maximum_amount_capturable == 1800
    assert event_types(service)[-1] == "payment_intent.amount_capturable_updated"


def test_a_declined_increment_changes_nothing_but_the_count(service: PaymentIntents) -> None:
    intent = held(service, pm="pm_card_incrementDeclined")
    with pytest.raises(CardError):
        service.increment_authorization(intent.id, amount=1500)
    after = service.retrieve(intent.id)
    assert (after.amount, after.amount_capturable, after.charges[-1].increments) == (1000, 1000, 1)


def test_increments_stop_after_ten_attempts_declines_included(service: PaymentIntents) -> None:
    intent = held(service, pm="pm_card_incrementDeclined")
    for attempt in range(10):
        with pytest.raises(CardError):
            service.increment_authorization(intent.id, amount=2000 + attempt)
    with pytest.raises(InvalidRequestError) as refused:
        service.increment_authorization(intent.id, amount=5000)
    assert refused.value.code == "payment_intent_unexpected_state"


def test_an_increment_must_exceed_the_amount_and_never_follows_a_capture(
    service: PaymentIntents,
) -> None:
    intent = held(service)
    with pytest.raises(InvalidRequestError) as refused:
        service.increment_authorization(intent.id, amount=1000)
    assert refused.value.param == "amount"
    service.capture(intent.id, amount_to_capture=100, final_capture=False)
    with pytest.raises(InvalidRequestError):
        service.increment_authorization(intent.id, amount=2000)


def test_increments_need_the_grant_and_a_hold(service: PaymentIntents) -> None:
    not_granted = held(service, pm="pm_card_visa_debit")
    with pytest.raises(InvalidRequestError):
        service.increment_authorization(not_granted.id, amount=2000)
    with pytest.raises(InvalidRequestError) as refused:
        service.increment_authorization(paid(service).id, amount=2000)
    assert refused.value.code == "payment_intent_unexpected_state"


# -- extended authorization and the profiles ---------------------------------------------------


def test_extended_authorization_holds_for_thirty_days(
    service: PaymentIntents, clock: ManualClock
) -> None:
    extended = held(service)
    plain = held(service, options={})
    assert extended.charges[-1].extended_authorization == "available"
    assert extended.capture_before_at == clock.now() + 30 * DAY
    assert plain.capture_before_at == clock.now() + 7 * DAY
    assert plain.charges[-1].extended_authorization is None


def test_flexible_acquiring_can_be_asked_for_at_confirm(service: PaymentIntents) -> None:
    intent = service.create(amount=1000, currency="usd", capture_method="manual")
    confirmed = service.confirm(
        intent.id,
        payment_method="pm_card_visa",
        payment_method_options={"card": {"request_multicapture": "if_available"}},
    )
    assert confirmed.charges[-1].multicapture == "available"
    assert confirmed.charges[-1].overcapture is None


def test_payrex_keeps_its_single_capture(service: PaymentIntents) -> None:
    payrex = PaymentIntents(InMemoryStore(), service.clock, profile="payrex")
    with pytest.raises(InvalidRequestError) as refused:
        payrex.create(
            amount=5000,
            currency="php",
            payment_method_options={"card": {"request_multicapture": "if_available"}},
        )
    assert refused.value.param == "payment_method_options[card][request_multicapture]"
    assert len(payrex.list()) == 0


def test_a_refund_that_names_a_charge_must_name_the_one_that_collected(
    service: PaymentIntents,
) -> None:
    intent = service.create(amount=1000, currency="usd")
    with pytest.raises(CardError):
        service.confirm(intent.id, payment_method="pm_card_visa_chargeDeclined")
    paid_now = service.confirm(intent.id, payment_method="pm_card_visa")
    declined, collected = paid_now.charges
    with pytest.raises(InvalidRequestError) as refused:
        service.refund(intent.id, charge=declined.id)
    assert refused.value.param == "charge"
    with pytest.raises(InvalidRequestError) as unknown:
        service.refund(intent.id, charge="ch_unknown_1")
    assert (unknown.value.code, unknown.value.param) == ("resource_missing", "charge")
    assert service.refund(intent.id, charge=collected.id).charge == collected.id


# -- the edges of a capture ------------------------------------------------------------------------


def test_a_hold_asking_overcapture_in_vain_may_be_captured_for_its_amount_only(
    service: PaymentIntents,
) -> None:
    intent = held(service, pm="pm_card_visa_debit")
    hold = intent.charges[-1]
    assert (hold.overcapture, hold.maximum_amount_capturable) == ("unavailable", 1000)
    with pytest.raises(InvalidRequestError):
        service.capture(intent.id, amount_to_capture=1001)


def test_an_overcapture_refunds_nothing_of_the_hold(service: PaymentIntents) -> None:
    intent = held(service)
    captured = service.capture(intent.id, amount_to_capture=1200)
    hold = captured.charges[-1]
    assert (hold.amount_captured, hold.amount_refunded) == (1200, 0)


def test_only_a_first_and_final_capture_may_go_over_the_hold(service: PaymentIntents) -> None:
    intent = held(service)
    service.capture(intent.id, amount_to_capture=300, final_capture=False)
    with pytest.raises(InvalidRequestError):
        service.capture(intent.id, amount_to_capture=800)
    assert service.capture(intent.id, amount_to_capture=700).amount_received == 1000


def test_capturing_all_that_is_left_is_the_final_capture_even_when_not_said(
    service: PaymentIntents,
) -> None:
    intent = held(service)
    done = service.capture(intent.id, amount_to_capture=1000, final_capture=False)
    assert (done.status, done.amount_capturable) == ("succeeded", 0)


def test_a_capture_keeps_the_charges_of_earlier_attempts(service: PaymentIntents) -> None:
    intent = service.create(amount=1000, currency="usd", capture_method="manual")
    with pytest.raises(CardError):
        service.confirm(intent.id, payment_method="pm_card_visa_chargeDeclined")
    service.confirm(intent.id, payment_method="pm_card_visa")
    captured = service.capture(intent.id)
    assert [c.status for c in captured.charges] == ["failed", "succeeded"]
    assert captured.charges[-1].captured


class CaptureDeclines(SimulatedProcessor):
    """A processor that authorizes as the simulated one does and declines every capture."""

    def capture(self, attempt: Attempt, amount: int) -> Outcome:
        return Declined("card_declined", "The capture was declined.", "generic_decline")


def test_a_declined_capture_raises_and_leaves_the_hold_as_it_was(clock: ManualClock) -> None:
    service = PaymentIntents(InMemoryStore(), clock, processor=CaptureDeclines())
    intent = held(service)
    with pytest.raises(CardError) as declined:
        service.capture(intent.id, amount_to_capture=400)
    assert declined.value.code == "card_declined"
    after = service.retrieve(intent.id)
    assert (after.status, after.amount_capturable, after.amount_received) == (
        "requires_capture",
        1000,
        0,
    )


# -- a refund's own lifecycle and refusals ---------------------------------------------------------


def test_a_pending_refund_settled_as_succeeded_keeps_its_money_refunded(
    service: PaymentIntents,
) -> None:
    intent = collected_by_bank(service, "open_banking")
    pending = service.refund(intent.id)
    settled = service.settle_refund(pending.id)
    assert (settled.status, settled.failure_reason) == ("succeeded", None)
    charge = service.retrieve(intent.id).charges[-1]
    assert (charge.amount_refunded, charge.refunded) == (1000, True)
    with pytest.raises(InvalidRequestError) as refused:
        service.settle_refund(pending.id, succeed=False)
    assert refused.value.code == "refund_unexpected_state"


def test_a_refund_naming_a_charge_the_intent_never_had_is_resource_missing(
    service: PaymentIntents,
) -> None:
    intent = paid(service)
    with pytest.raises(InvalidRequestError) as refused:
        service.refund(intent.id, charge="ch_not_this_ones")
    assert (refused.value.code, refused.value.param) == ("resource_missing", "charge")


def test_refusals_of_what_cannot_be_refunded_name_the_payment_intent(
    service: PaymentIntents,
) -> None:
    intent = paid(service)
    service.refund(intent.id)
    with pytest.raises(InvalidRequestError) as refused:
        service.refund(intent.id)
    assert (refused.value.code, refused.value.param) == (
        "charge_already_refunded",
        "payment_intent",
    )


def test_a_refund_records_why_it_failed_and_only_then(service: PaymentIntents) -> None:
    sent = service.refund(paid(service).id)
    failed = service.refund(paid(service, pm="pm_card_refundFail").id)
    assert (sent.status, sent.failure_reason) == ("succeeded", None)
    assert (failed.status, failed.failure_reason) == ("failed", "declined")


def test_a_settled_refund_cannot_be_settled_again_naming_the_refund(
    service: PaymentIntents,
) -> None:
    refund = service.refund(paid(service).id)
    with pytest.raises(InvalidRequestError) as refused:
        service.cancel_refund(refund.id)
    assert (refused.value.code, refused.value.param) == ("refund_unexpected_state", "refund")


def test_a_payrex_refund_edit_changes_its_notes_and_reports_them_as_they_were(
    service: PaymentIntents, clock: ManualClock
) -> None:
    payrex = PaymentIntents(InMemoryStore(), clock, profile="payrex")
    intent = payrex.create(amount=5000, currency="php", payment_method="pm_card_visa", confirm=True)
    refund = payrex.refund(intent.id, amount=1000, description="damaged", metadata={"a": "1"})
    clock.advance(60)
    edited = payrex.update_refund(refund.id, remarks="box crushed", metadata={"b": "2"})
    assert (edited.description, edited.remarks) == ("damaged", "box crushed")
    assert edited.metadata == {"a": "1", "b": "2"}
    assert edited.updated_at == refund.updated_at + 60
    updated = payrex.events(limit=100).data[-1]
    assert updated.type == "refund.updated"
    assert updated.previous_attributes == {"remarks": None, "metadata": {"a": "1"}}
    cleared = payrex.update_refund(refund.id, description="", remarks="")
    assert (cleared.description, cleared.remarks) == (None, None)
    assert payrex.retrieve(intent.id).charges[-1].amount_refunded == 1000


def test_a_settled_refund_is_as_new_as_its_settling(
    service: PaymentIntents, clock: ManualClock
) -> None:
    intent = collected_by_bank(service, "direct_debit")
    pending = service.refund(intent.id)
    clock.advance(300)
    assert service.settle_refund(pending.id).updated_at == pending.updated_at + 300


def test_a_refund_counts_against_the_charge_that_collected_only(service: PaymentIntents) -> None:
    intent = service.create(amount=1000, currency="usd")
    with pytest.raises(CardError):
        service.confirm(intent.id, payment_method="pm_card_visa_chargeDeclined")
    service.confirm(intent.id, payment_method="pm_card_visa")
    service.refund(intent.id, amount=300)
    declined, collected = service.retrieve(intent.id).charges
    assert (declined.amount_refunded, collected.amount_refunded) == (0, 300)


def test_the_refund_a_closing_window_records_is_named_after_its_hold(
    service: PaymentIntents, clock: ManualClock
) -> None:
    intent = held(service, options={})
    clock.advance(8 * DAY)
    (read,) = service.retrieve(intent.id).refunds  # before the sweep stores the expiry
    service.expire_authorizations()
    (expired,) = service.list_refunds(payment_intent=intent.id).data
    assert expired == read
    hold = service.retrieve(intent.id).charges[-1]
    assert expired.id == "re_" + hold.id.removeprefix("ch_") + "x"
    assert (expired.reason, expired.charge) == ("expired_uncaptured_charge", hold.id)


# -- a charge's own notes --------------------------------------------------------------------------


def test_a_charge_keeps_metadata_of_its_own_and_the_others_are_untouched(
    service: PaymentIntents,
) -> None:
    intent = service.create(amount=1000, currency="usd")
    with pytest.raises(CardError):
        service.confirm(intent.id, payment_method="pm_card_visa_chargeDeclined")
    paid_now = service.confirm(intent.id, payment_method="pm_card_visa")
    collected = paid_now.charges[-1]
    noted = service.update_charge(intent.id, charge=collected.id, metadata={"order": "42"})
    assert [c.metadata for c in noted.charges] == [{}, {"order": "42"}]
    again = service.update_charge(intent.id, charge=collected.id)
    assert again.charges == noted.charges
    assert again.version == noted.version + 1
    with pytest.raises(InvalidRequestError) as refused:
        service.update_charge(intent.id, charge="ch_not_this_ones", metadata={"a": "b"})
    assert (refused.value.code, refused.value.param) == ("resource_missing", "charge")


# -- increments and releases -----------------------------------------------------------------------


def test_an_increment_raises_the_amount_counts_itself_and_keeps_earlier_charges(
    service: PaymentIntents,
) -> None:
    intent = service.create(
        amount=1000,
        currency="usd",
        capture_method="manual",
        payment_method_options=EVERYTHING,
    )
    with pytest.raises(CardError):
        service.confirm(intent.id, payment_method="pm_card_visa_chargeDeclined")
    service.confirm(intent.id, payment_method="pm_card_visa")
    raised = service.increment_authorization(
        intent.id, amount=1500, description="two more", metadata={"step": "2"}
    )
    assert (raised.amount, raised.amount_capturable) == (1500, 1500)
    assert (raised.description, raised.metadata) == ("two more", {"step": "2"})
    declined, hold = raised.charges
    assert (declined.status, hold.amount, hold.increments) == ("failed", 1500, 1)


def test_a_cancel_releases_the_hold_and_keeps_earlier_charges(service: PaymentIntents) -> None:
    intent = service.create(amount=1000, currency="usd", capture_method="manual")
    with pytest.raises(CardError):
        service.confirm(intent.id, payment_method="pm_card_visa_chargeDeclined")
    service.confirm(intent.id, payment_method="pm_card_visa")
    canceled = service.cancel(intent.id)
    assert (canceled.status, canceled.amount_capturable) == ("canceled", 0)
    declined, hold = canceled.charges
    assert (declined.amount_refunded, hold.amount_refunded) == (0, 1000)


def test_a_cancel_after_a_partial_capture_succeeds_for_that_part(service: PaymentIntents) -> None:
    intent = service.create(
        amount=1000, currency="usd", capture_method="manual", payment_method_options=EVERYTHING
    )
    with pytest.raises(CardError):
        service.confirm(intent.id, payment_method="pm_card_visa_chargeDeclined")
    service.confirm(intent.id, payment_method="pm_card_visa")
    service.capture(intent.id, amount_to_capture=300, final_capture=False)
    closed = service.cancel(intent.id)
    assert (closed.status, closed.amount_received, closed.amount_capturable) == (
        "succeeded",
        300,
        0,
    )
    assert closed.charges[-1].amount_refunded == 700
    assert event_types(service)[-1] == "payment_intent.succeeded"


class ReleaseDeclines(SimulatedProcessor):
    """A processor that declines to release a hold."""

    def release(self, attempt: Attempt) -> Outcome:
        return Declined("processing_error", "The hold could not be released.")


def test_a_declined_release_raises_and_leaves_the_hold_as_it_was(clock: ManualClock) -> None:
    service = PaymentIntents(InMemoryStore(), clock, processor=ReleaseDeclines())
    intent = held(service)
    with pytest.raises(CardError):
        service.cancel(intent.id)
    after = service.retrieve(intent.id)
    assert (after.status, after.amount_capturable) == ("requires_capture", 1000)


def test_a_declined_increment_keeps_earlier_charges(service: PaymentIntents) -> None:
    intent = service.create(
        amount=1000, currency="usd", capture_method="manual", payment_method_options=EVERYTHING
    )
    with pytest.raises(CardError):
        service.confirm(intent.id, payment_method="pm_card_visa_chargeDeclined")
    service.confirm(intent.id, payment_method="pm_card_incrementDeclined")
    with pytest.raises(CardError):
        service.increment_authorization(intent.id, amount=1500)
    declined, hold = service.retrieve(intent.id).charges
    assert (declined.status, hold.amount, hold.increments) == ("failed", 1000, 1)


def test_a_cancel_releases_even_the_last_unit_left(service: PaymentIntents) -> None:
    intent = held(service)
    service.capture(intent.id, amount_to_capture=999, final_capture=False)
    closed = service.cancel(intent.id)
    assert (closed.amount_received, closed.charges[-1].amount_refunded) == (999, 1)
