"""Each error row of SPEC section 4 and the field rules, in both profiles where they differ."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from payment_intent import InMemoryStore, ManualClock, PaymentIntents, Status
from payment_intent.domain.errors import parameter_unknown
from payment_intent.domain.profiles import get_profile
from payment_intent.errors import (
    AuthenticationError,
    CardError,
    ConcurrencyError,
    IdempotencyError,
    InvalidRequestError,
    PaymentIntentError,
    ProcessorUnavailableError,
    StorageUnavailableError,
)
from payment_intent.ports import Commit, IntegrityError, OperationalError
from tests.helpers import hold

# Every test here runs over each store the kit offers (see tests/conftest.py).
pytestmark = pytest.mark.payment_intent_stores("memory", "sqlite")


def refused(call: Any, *args: Any, **kwargs: Any) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as raised:
        call(*args, **kwargs)
    return raised.value


def assert_error(
    error: PaymentIntentError, code: str, param: str | None, status: int = 400
) -> None:
    assert (error.code, error.param, error.http_status) == (code, param, status), repr(error)
    assert error.type == "invalid_request_error"
    assert error.message


# -- parameter errors --------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["amount", "currency"])
def test_a_missing_required_parameter_is_named(svc: PaymentIntents, missing: str) -> None:
    params: dict[str, Any] = {"amount": 5_000, "currency": "eur"}
    del params[missing]
    assert_error(refused(svc.create, **params), "parameter_missing", missing)


@pytest.mark.parametrize("operation", ["create", "update", "confirm", "capture", "cancel", "list"])
def test_an_unknown_parameter_is_named(svc: PaymentIntents, operation: str) -> None:
    pi = svc.create(amount=5_000, currency="eur")
    args = () if operation in ("create", "list") else (pi.id,)
    kwargs: dict[str, Any] = {"amount": 5_000, "currency": "eur"} if operation == "create" else {}
    error = refused(getattr(svc, operation), *args, **kwargs, colour="blue")
    assert_error(error, "parameter_unknown", "colour")


@pytest.mark.parametrize(
    ("params", "code", "param"),
    [
        ({"amount": "5000"}, "parameter_invalid_integer", "amount"),
        ({"amount": 50.5}, "parameter_invalid_integer", "amount"),
        ({"amount": True}, "parameter_invalid_integer", "amount"),
        ({"currency": 978}, "parameter_invalid", "currency"),
        ({"capture_method": "later"}, "parameter_invalid", "capture_method"),
        ({"confirmation_method": "sometimes"}, "parameter_invalid", "confirmation_method"),
        ({"confirm": "yes"}, "parameter_invalid", "confirm"),
        ({"payment_method_types": "card"}, "parameter_invalid", "payment_method_types"),
        ({"payment_method_types": []}, "parameter_invalid", "payment_method_types"),
        ({"payment_method_types": ["bitcoin"]}, "parameter_invalid", "payment_method_types"),
        ({"return_url": "not a url"}, "parameter_invalid", "return_url"),
        ({"metadata": {"a": 1}}, "parameter_invalid", "metadata[a]"),
        ({"customer": "c" * 256}, "parameter_invalid", "customer"),
        (
            {"payment_method_options": {"card": {"colour": 1}}},
            "parameter_unknown",
            "payment_method_options[card][colour]",
        ),
    ],
)
def test_a_wrong_type_or_value_is_named(
    svc: PaymentIntents, params: dict[str, Any], code: str, param: str
) -> None:
    error = refused(svc.create, **{"amount": 5_000, "currency": "eur", **params})
    assert_error(error, code, param)


@pytest.mark.parametrize(
    ("currency", "too_small", "smallest"),
    [
        ("eur", 49, 50),
        ("usd", 49, 50),
        ("gbp", 29, 30),
        ("jpy", 49, 50),
        ("kwd", 499, 500),
        # no published minimum: 0.50 of the major unit, whatever the minor unit
        ("php", 49, 50),
        ("bif", 0, 1),
        ("clf", 4_999, 5_000),
    ],
)
def test_amount_bounds_follow_the_currency(
    svc: PaymentIntents, currency: str, too_small: int, smallest: int
) -> None:
    assert_error(
        refused(svc.create, amount=too_small, currency=currency), "amount_too_small", "amount"
    )
    assert svc.create(amount=smallest, currency=currency).amount == smallest
    assert svc.create(amount=99_999_999, currency=currency).amount == 99_999_999
    assert_error(
        refused(svc.create, amount=100_000_000, currency=currency), "amount_too_large", "amount"
    )


#: Stripe's published minimum charge amounts, in the currency's minor unit.
PUBLISHED_MINIMUMS = {
    "usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50, "czk": 1500,
    "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500, "inr": 50, "jpy": 50, "mxn": 1000,
    "myr": 200, "nok": 300, "nzd": 50, "pln": 200, "ron": 200, "sek": 300, "sgd": 50, "thb": 1000,
}  # fmt: skip


@pytest.mark.parametrize(("currency", "smallest"), PUBLISHED_MINIMUMS.items())
def test_a_currency_with_a_published_minimum_takes_exactly_that(
    currency: str, smallest: int
) -> None:
    assert get_profile("casapay").amount_bounds(currency) == (smallest, 99_999_999)


def test_amount_must_be_positive(svc: PaymentIntents) -> None:
    assert_error(refused(svc.create, amount=0, currency="eur"), "amount_too_small", "amount")
    assert_error(refused(svc.create, amount=-5, currency="eur"), "amount_too_small", "amount")


@pytest.mark.parametrize("currency", ["xyz", "euro", "EU", "xau"])
def test_currency_must_be_a_real_iso_4217_code(svc: PaymentIntents, currency: str) -> None:
    assert refused(svc.create, amount=5_000, currency=currency).param == "currency"


def test_currency_is_stored_lower_case(svc: PaymentIntents) -> None:
    assert svc.create(amount=5_000, currency="EUR").currency == "eur"


@pytest.mark.parametrize(
    ("metadata", "param"),
    [
        ({f"k{i}": "v" for i in range(51)}, "metadata"),
        ({"k" * 41: "v"}, "metadata"),
        ({"a[b]": "v"}, "metadata"),
        ({"": "v"}, "metadata"),
        ({"k": "v" * 501}, "metadata"),
    ],
    ids=["51 keys", "key of 41", "brackets", "empty key", "value of 501"],
)
def test_metadata_limits(svc: PaymentIntents, metadata: dict[str, str], param: str) -> None:
    error = refused(svc.create, amount=5_000, currency="eur", metadata=metadata)
    assert_error(error, "parameter_invalid", param)


def test_metadata_at_its_limits_is_accepted(svc: PaymentIntents) -> None:
    metadata = {f"{i:02d}" + "k" * 38: "v" * 500 for i in range(50)}
    assert svc.create(amount=5_000, currency="eur", metadata=metadata).metadata == metadata


def test_an_empty_metadata_value_removes_the_key_on_update(svc: PaymentIntents) -> None:
    pi = svc.create(amount=5_000, currency="eur", metadata={"a": "1", "b": "2"})
    pi = svc.update(pi.id, metadata={"a": "", "c": "3"})
    assert pi.metadata == {"b": "2", "c": "3"}


def test_metadata_merged_on_update_may_not_pass_fifty_keys(svc: PaymentIntents) -> None:
    pi = svc.create(amount=5_000, currency="eur", metadata={f"a{i}": "v" for i in range(30)})
    error = refused(svc.update, pi.id, metadata={f"b{i}": "v" for i in range(21)})
    assert_error(error, "parameter_invalid", "metadata")
    assert svc.retrieve(pi.id).version == 1


def test_description_is_at_most_1000_characters(svc: PaymentIntents) -> None:
    assert svc.create(amount=5_000, currency="eur", description="d" * 1000).description
    error = refused(svc.create, amount=5_000, currency="eur", description="d" * 1001)
    assert_error(error, "parameter_invalid", "description")


@pytest.mark.parametrize(
    "descriptor", ["Rent", "R" * 23, "Rent <Feb>", "12345", 'Say "hi"', "Miete*"]
)
def test_casapay_statement_descriptor_rules(svc: PaymentIntents, descriptor: str) -> None:
    error = refused(svc.create, amount=5_000, currency="eur", statement_descriptor=descriptor)
    assert_error(error, "parameter_invalid", "statement_descriptor")


def test_a_good_statement_descriptor_is_kept(svc: PaymentIntents) -> None:
    pi = svc.create(amount=5_000, currency="eur", statement_descriptor="CASAPAY RENT 02")
    assert pi.statement_descriptor == "CASAPAY RENT 02"


@pytest.mark.parametrize("descriptor", ["Rents", "R" * 22])
def test_a_casapay_statement_descriptor_may_have_5_to_22_characters(
    svc: PaymentIntents, descriptor: str
) -> None:
    pi = svc.create(amount=5_000, currency="eur", statement_descriptor=descriptor)
    assert pi.statement_descriptor == descriptor


@pytest.mark.parametrize("descriptor", ["", "X", "12345", "Miete*", "東京 Store", "X" * 22])
def test_a_payrex_statement_descriptor_is_any_text_of_at_most_22_characters(
    payrex: PaymentIntents, descriptor: str
) -> None:
    pi = payrex.create(amount=10_000, currency="PHP", statement_descriptor=descriptor)
    assert pi.statement_descriptor == descriptor


def test_a_payrex_statement_descriptor_of_23_characters_is_refused(payrex: PaymentIntents) -> None:
    error = refused(payrex.create, amount=10_000, currency="PHP", statement_descriptor="X" * 23)
    assert_error(error, "parameter_invalid", "statement_descriptor")
    assert error.message == "The statement descriptor must be at most 22 characters."


def test_an_unknown_profile_is_refused_by_name() -> None:
    with pytest.raises(InvalidRequestError) as refused_profile:
        PaymentIntents(profile="stripe")
    assert (refused_profile.value.code, refused_profile.value.param) == (
        "parameter_invalid",
        "profile",
    )


@pytest.mark.parametrize("kind", ["card", "gcash", "maya", "qrph"])
def test_payrex_offers_cards_and_its_wallets(payrex: PaymentIntents, kind: str) -> None:
    pi = payrex.create(amount=10_000, currency="PHP", payment_method_types=[kind])
    assert pi.payment_method_types == (kind,)


@pytest.mark.parametrize(
    ("amount", "currency", "code", "param"),
    [
        (10_000, "USD", "parameter_invalid", "currency"),
        (1_999, "PHP", "amount_too_small", "amount"),
        (6_000_000_000, "PHP", "amount_too_large", "amount"),
    ],
)
def test_payrex_field_rules(
    payrex: PaymentIntents, amount: int, currency: str, code: str, param: str
) -> None:
    assert_error(refused(payrex.create, amount=amount, currency=currency), code, param)


def test_payrex_amount_bounds_are_inclusive(payrex: PaymentIntents) -> None:
    assert payrex.create(amount=2_000, currency="PHP").amount == 2_000
    assert payrex.create(amount=5_999_999_999, currency="PHP").amount == 5_999_999_999


def test_payment_method_types_follow_the_profile(
    svc: PaymentIntents, payrex: PaymentIntents
) -> None:
    assert refused(svc.create, amount=5_000, currency="eur", payment_method_types=["gcash"]).param
    assert (
        refused(
            payrex.create, amount=10_000, currency="PHP", payment_method_types=["open_banking"]
        ).param
        == "payment_method_types"
    )


def test_payrex_card_restrictions(payrex: PaymentIntents) -> None:
    options = {"card": {"allowed_funding": ["debit"], "allowed_bins": ["400005", "424242"]}}
    pi = payrex.create(amount=10_000, currency="PHP", payment_method_options=options)
    error = refused(payrex.confirm, pi.id, payment_method="pm_card_visa")
    assert_error(error, "parameter_invalid", "payment_method")
    assert "funding" in error.message
    assert payrex.confirm(pi.id, payment_method="pm_card_visa_debit").status is Status.SUCCEEDED


def test_payrex_refuses_a_card_whose_bin_is_not_allowed(payrex: PaymentIntents) -> None:
    options = {"card": {"allowed_bins": ["400005"]}}
    pi = payrex.create(amount=10_000, currency="PHP", payment_method_options=options)
    error = refused(payrex.confirm, pi.id, payment_method="pm_card_visa")  # BIN 424242
    assert_error(error, "parameter_invalid", "payment_method")
    assert "allowed_bins" in error.message
    assert payrex.confirm(pi.id, payment_method="pm_card_visa_debit").status is Status.SUCCEEDED


# -- intents that exist or do not --------------------------------------------------------------


@pytest.mark.parametrize("operation", ["retrieve", "update", "confirm", "capture", "cancel"])
def test_an_unknown_intent_is_resource_missing(svc: PaymentIntents, operation: str) -> None:
    error = refused(getattr(svc, operation), "pi_doesnotexist")
    assert_error(error, "resource_missing", "intent", 404)
    assert error.payment_intent is None


@pytest.mark.parametrize("operation", ["confirm", "update"])
def test_an_unknown_payment_method_is_resource_missing(svc: PaymentIntents, operation: str) -> None:
    pi = svc.create(amount=5_000, currency="eur")
    assert_error(
        refused(getattr(svc, operation), pi.id, payment_method="pm_nope"),
        "resource_missing",
        "payment_method",
        404,
    )


def test_a_method_of_a_type_the_intent_does_not_allow_is_refused(svc: PaymentIntents) -> None:
    pi = svc.create(amount=5_000, currency="eur")
    error = refused(svc.confirm, pi.id, payment_method="pm_open_banking")
    assert_error(error, "parameter_invalid", "payment_method")


def test_an_asynchronous_method_cannot_be_captured_manually(svc: PaymentIntents) -> None:
    pi = svc.create(
        amount=5_000, currency="eur", capture_method="manual", payment_method_types=["open_banking"]
    )
    error = refused(svc.confirm, pi.id, payment_method="pm_open_banking")
    assert_error(error, "parameter_invalid", "payment_method")


def test_the_unexpected_state_message_names_operation_status_and_accepted(
    svc: PaymentIntents,
) -> None:
    pi = svc.create(amount=5_000, currency="eur", payment_method="pm_card_visa", confirm=True)
    error = refused(svc.capture, pi.id)
    assert error.message == (
        "This PaymentIntent could not be captured because it has a status of succeeded. Only a "
        "PaymentIntent with one of the following statuses may be captured: requires_capture."
    )
    assert_error(error, "payment_intent_unexpected_state", None)
    assert error.payment_intent == pi


def test_capturing_more_than_capturable_is_amount_too_large(svc: PaymentIntents) -> None:
    pi = hold(svc, 5_000)
    error = refused(svc.capture, pi.id, amount_to_capture=5_001)
    assert_error(error, "amount_too_large", "amount_to_capture")
    assert_error(
        refused(svc.capture, pi.id, amount_to_capture=0), "amount_too_small", "amount_to_capture"
    )
    assert svc.retrieve(pi.id) == pi


def test_a_decline_is_a_card_error_with_the_intent(svc: PaymentIntents) -> None:
    with pytest.raises(CardError) as raised:
        svc.create(
            amount=5_000, currency="eur", payment_method="pm_card_visa_chargeDeclined", confirm=True
        )
    error = raised.value
    assert (error.type, error.code, error.decline_code, error.http_status) == (
        "card_error",
        "card_declined",
        "generic_decline",
        402,
    )
    assert error.payment_intent is not None
    assert error.to_dict()["payment_intent"]["status"] == "requires_payment_method"


# -- idempotency -------------------------------------------------------------------------------


def test_a_retry_with_the_same_key_returns_the_first_result(svc: PaymentIntents) -> None:
    first = svc.create(amount=5_000, currency="eur", idempotency_key="order-1")
    svc.update(first.id, description="changed since")
    again = svc.create(amount=5_000, currency="eur", idempotency_key="order-1")
    assert again == first
    assert len(svc.list().data) == 1


def test_a_retry_replays_a_recorded_decline_without_acting(svc: PaymentIntents) -> None:
    pi = svc.create(amount=5_000, currency="eur")
    with pytest.raises(CardError) as first:
        svc.confirm(pi.id, payment_method="pm_card_visa_chargeDeclined", idempotency_key="try-1")
    version = svc.retrieve(pi.id).version
    with pytest.raises(CardError) as again:
        svc.confirm(pi.id, payment_method="pm_card_visa_chargeDeclined", idempotency_key="try-1")
    assert again.value.to_dict() == first.value.to_dict()
    assert svc.retrieve(pi.id).version == version
    assert len(svc.retrieve(pi.id).charges) == 1


def test_the_same_key_with_other_parameters_is_an_idempotency_error(svc: PaymentIntents) -> None:
    svc.create(amount=5_000, currency="eur", idempotency_key="order-1")
    with pytest.raises(IdempotencyError) as raised:
        svc.create(amount=6_000, currency="eur", idempotency_key="order-1")
    error = raised.value
    assert (error.type, error.code, error.http_status) == (
        "idempotency_error",
        "idempotency_key_reused",
        400,
    )


def test_keys_expire_after_24_hours(svc: PaymentIntents, clock: ManualClock) -> None:
    first = svc.create(amount=5_000, currency="eur", idempotency_key="order-1")
    clock.advance(24 * 3600 - 1)
    assert svc.create(amount=5_000, currency="eur", idempotency_key="order-1") == first
    clock.advance(1)
    second = svc.create(amount=6_000, currency="eur", idempotency_key="order-1")
    assert second.id != first.id


def test_an_overlong_idempotency_key_is_refused(svc: PaymentIntents) -> None:
    error = refused(svc.create, amount=5_000, currency="eur", idempotency_key="k" * 256)
    assert_error(error, "parameter_invalid", "idempotency_key")


# -- concurrency -------------------------------------------------------------------------------


class AlwaysLosingStore(InMemoryStore):
    """A store on which every write loses a race (it says so in storage's words)."""

    def commit(self, commit: Commit) -> None:
        raise IntegrityError("another writer won")


class UnreachableStore(InMemoryStore):
    """A store whose database is down: every read and write fails."""

    def load(self, intent_id: str) -> None:
        raise OperationalError("connection refused")

    def commit(self, commit: Commit) -> None:
        raise OperationalError("connection refused")


def test_a_store_that_is_down_is_a_retryable_503_that_changed_nothing(clock: ManualClock) -> None:
    svc = PaymentIntents(store=UnreachableStore(), clock=clock)
    for attempt in (
        lambda: svc.create(amount=5_000, currency="eur"),
        lambda: svc.retrieve("pi_123"),
        lambda: svc.capture("pi_123"),
    ):
        with pytest.raises(StorageUnavailableError) as raised:
            attempt()
        assert (raised.value.type, raised.value.code, raised.value.http_status) == (
            "api_error",
            "storage_unavailable",
            503,
        )
        assert "Retry" in raised.value.message


def test_a_write_that_keeps_losing_is_a_409(clock: ManualClock) -> None:
    svc = PaymentIntents(store=AlwaysLosingStore(), clock=clock, max_retries=3)
    with pytest.raises(ConcurrencyError) as raised:
        svc.create(amount=5_000, currency="eur")
    assert (raised.value.type, raised.value.code, raised.value.http_status) == (
        "api_error",
        "lock_timeout",
        409,
    )


class RacingStore(InMemoryStore):
    """Lets one other command commit just before this one, once: a lost race, made repeatable."""

    def __init__(self) -> None:
        super().__init__()
        self.interloper: Any = None

    def commit(self, commit: Commit) -> None:
        interloper, self.interloper = self.interloper, None
        if interloper is not None:
            interloper()
        super().commit(commit)


def test_the_loser_of_a_capture_race_sees_the_winner_and_its_error(clock: ManualClock) -> None:
    store = RacingStore()
    svc = PaymentIntents(store=store, clock=clock)
    pi = hold(svc, 5_000)
    store.interloper = lambda: svc.capture(pi.id, amount_to_capture=1_000)
    error = refused(svc.capture, pi.id, amount_to_capture=4_000)
    assert error.code == "payment_intent_unexpected_state"
    stored = svc.retrieve(pi.id)
    assert (stored.status, stored.amount_received, stored.version) == (Status.SUCCEEDED, 1_000, 2)
    assert [e.type for e in svc.events().data].count("payment_intent.succeeded") == 1


def test_a_replay_never_shows_a_hold_that_has_lapsed(clock: ManualClock) -> None:
    from dataclasses import replace

    from payment_intent import CASAPAY

    short_window = replace(CASAPAY, name="short", authorization_window=3600)
    svc = PaymentIntents(clock=clock, profile=short_window)
    params = dict(
        amount=5_000, currency="eur", capture_method="manual", payment_method="pm_card_visa"
    )
    first = svc.create(**params, confirm=True, idempotency_key="hold-1")  # type: ignore[arg-type]
    assert first.status is Status.REQUIRES_CAPTURE
    clock.advance(3600)
    again = svc.create(**params, confirm=True, idempotency_key="hold-1")  # type: ignore[arg-type]
    assert again.id == first.id
    assert (again.status, again.cancellation_reason) == (Status.CANCELED, "automatic")


def test_an_error_of_no_particular_kind_is_an_api_error_with_status_500() -> None:
    error = PaymentIntentError("An unexpected error occurred.", code="api_error")
    assert (error.type, error.http_status) == ("api_error", 500)


def test_an_error_with_an_intent_is_a_copy_that_carries_the_intent(svc: PaymentIntents) -> None:
    intent = svc.create(amount=5_000, currency="eur")
    error = CardError("Your card was declined.", code="card_declined", decline_code="lost_card")
    carried = error.with_intent(intent)
    assert type(carried) is CardError
    assert carried.to_dict() == {
        **error.to_dict(),
        "payment_intent": intent.model_dump(mode="json"),
    }


def test_an_error_crosses_a_process_boundary_whole(svc: PaymentIntents) -> None:
    """Pickled, as a process pool sends it back, an error keeps its class and every field."""
    intent = svc.create(amount=5_000, currency="eur")
    error = CardError(
        "Your card was declined.",
        code="card_declined",
        param="payment_method",
        http_status=402,
        decline_code="lost_card",
        payment_intent=intent,
    )
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is CardError
    assert copy.to_dict() == error.to_dict()


def test_an_error_kept_for_a_retry_is_rebuilt_whole(svc: PaymentIntents) -> None:
    """The idempotency record stores an error as data; a retry raises the same error again."""
    intent = svc.create(amount=5_000, currency="eur")
    error = InvalidRequestError(
        "No such payment_intent: 'pi_x'", code="resource_missing", param="id", http_status=404
    )
    rebuilt = PaymentIntentError.from_dict(error.with_intent(intent).to_dict())
    assert type(rebuilt) is InvalidRequestError
    assert (rebuilt.http_status, rebuilt.payment_intent) == (404, intent)
    assert rebuilt.to_dict() == error.with_intent(intent).to_dict()


#: Each kind of error as the providers' error bodies have it: its type and its HTTP status.
ERROR_KINDS = [
    (InvalidRequestError, "invalid_request_error", 400),
    (CardError, "card_error", 402),
    (IdempotencyError, "idempotency_error", 400),
    (AuthenticationError, "authentication_error", 401),
    (ConcurrencyError, "api_error", 409),
]


@pytest.mark.parametrize(
    ("kind", "type_", "status"),
    [(StorageUnavailableError, "api_error", 503), (ProcessorUnavailableError, "api_error", 502)],
)
def test_an_unavailable_store_or_processor_is_an_api_error_with_its_status(
    kind: type[PaymentIntentError], type_: str, status: int
) -> None:
    error = kind("Try again later.", code="some_code")
    assert (error.type, error.http_status) == (type_, status)


@pytest.mark.parametrize(("kind", "type_", "status"), ERROR_KINDS)
def test_each_kind_of_error_has_its_type_and_status_and_is_rebuilt_as_itself(
    kind: type[PaymentIntentError], type_: str, status: int
) -> None:
    error = kind("Something was wrong.", code="some_code")
    assert (error.type, error.http_status) == (type_, status)
    assert type(PaymentIntentError.from_dict(error.to_dict())) is kind


def test_an_unknown_parameter_is_named_with_its_own_code() -> None:
    error = parameter_unknown("colour")
    assert (error.code, error.param) == ("parameter_unknown", "colour")
    assert error.message == "Received unknown parameter: colour"
