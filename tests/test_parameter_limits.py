"""Every parameter's bounds, at the bound and one past it: the value at the limit is accepted, the
next one is refused with a typed error naming the parameter.

Read through :func:`payment_intent.domain.params.parse`, where every request of every dialect and
of the Python API is validated, so each bound is stated once here for all of them.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from payment_intent import PaymentIntents
from payment_intent.domain.errors import InvalidRequestError
from payment_intent.domain.params import (
    AdvanceClockParams,
    CancelParams,
    CaptureParams,
    ConfirmParams,
    CreateParams,
    EventListParams,
    EventsParams,
    IncrementParams,
    ListParams,
    OutcomeParams,
    RefundListParams,
    RefundParams,
    SearchParams,
    UpdateParams,
    parse,
)
from tests.test_refusals import STATUSES  # the seven, as the behaviour contract names them

BIGGEST = 2**63 - 1  # every store keeps integers in 64 bits
SMALLEST = -(2**63)
TEN_YEARS = 10 * 365 * 24 * 3600
URL = "https://shop.example/return/"

#: What each model needs besides the parameter under test.
BASE: dict[type[BaseModel], dict[str, Any]] = {
    CreateParams: {"amount": 1000, "currency": "eur"},
    IncrementParams: {"amount": 1000},
    SearchParams: {"query": "status:'succeeded'"},
    AdvanceClockParams: {"seconds": 0},
}


def metadata(keys: int = 1, key: str = "k", value: str = "v") -> dict[str, str]:
    return {f"{key}{n}" if keys > 1 else key: value for n in range(keys)}


def shipping(name: str = "Ada", city: str = "London") -> dict[str, Any]:
    return {"name": name, "address": {"city": city}}


def card_options(**options: Any) -> dict[str, Any]:
    return {"card": options}


# (model, parameter, accepted, refused, the parameter the refusal names, its code)
LIMITS: list[tuple[type[BaseModel], str, Any, Any, str, str]] = [
    # ids: 1 to 255 characters of text, no NUL
    (CreateParams, "customer", "c" * 255, "c" * 256, "customer", "parameter_invalid"),
    (CreateParams, "customer", "c", "", "customer", "parameter_invalid"),
    (CreateParams, "customer", "cus_1", "cus_\x001", "customer", "parameter_invalid"),
    (RefundParams, "charge", "ch_" + "1" * 252, "ch_" + "1" * 253, "charge", "parameter_invalid"),
    # text is valid Unicode: no lone surrogate
    (CreateParams, "description", "café ☕", "caf\ud800", "description", "parameter_invalid"),
    (CreateParams, "description", "d" * 1000, "d" * 1001, "description", "parameter_invalid"),
    (RefundParams, "remarks", "r" * 1000, "r" * 1001, "remarks", "parameter_invalid"),
    (RefundParams, "reason", "r" * 100, "r" * 101, "reason", "parameter_invalid"),
    # amounts: positive, within 64 bits
    (CreateParams, "amount", 1, 0, "amount", "amount_too_small"),
    (CreateParams, "amount", BIGGEST, BIGGEST + 1, "amount", "amount_too_large"),
    (CreateParams, "amount", 1000, "1000", "amount", "parameter_invalid_integer"),
    (IncrementParams, "amount", 1, -5, "amount", "amount_too_small"),
    (RefundParams, "amount", BIGGEST, BIGGEST + 1, "amount", "amount_too_large"),
    (CaptureParams, "amount_to_capture", BIGGEST, BIGGEST + 1, "amount_to_capture",
     "amount_too_large"),
    (CaptureParams, "amount_to_capture", SMALLEST, SMALLEST - 1, "amount_to_capture",
     "amount_too_small"),
    (CreateParams, "currency", "eur", "eu", "currency", "parameter_invalid"),
    (CreateParams, "currency", "eur", "euro", "currency", "parameter_invalid"),
    # integers a list filters by: 64 bits either way
    (ListParams, "created", BIGGEST, BIGGEST + 1, "created", "parameter_invalid"),
    (ListParams, "created", SMALLEST, SMALLEST - 1, "created", "parameter_invalid"),
    (ListParams, "created", {"gt": BIGGEST}, {"gt": BIGGEST + 1}, "created[gt]",
     "parameter_invalid"),
    (ListParams, "created", {"lte": SMALLEST}, {"lte": SMALLEST - 1}, "created[lte]",
     "parameter_invalid"),
    # page sizes
    (ListParams, "limit", 1, 0, "limit", "parameter_invalid"),
    (ListParams, "limit", 100, 101, "limit", "parameter_invalid"),
    (RefundListParams, "limit", 100, 101, "limit", "parameter_invalid"),
    (EventListParams, "limit", 100, 101, "limit", "parameter_invalid"),
    (EventsParams, "limit", 1000, 1001, "limit", "parameter_invalid"),
    (EventsParams, "limit", 1, 0, "limit", "parameter_invalid"),
    (SearchParams, "limit", 100, 101, "limit", "parameter_invalid"),
    (SearchParams, "query", "q" * 1000, "q" * 1001, "query", "parameter_invalid"),
    (SearchParams, "query", "q", "", "query", "parameter_invalid"),
    (SearchParams, "page", "p" * 512, "p" * 513, "page", "parameter_invalid"),
    (SearchParams, "page", "p", "", "page", "parameter_invalid"),
    (EventListParams, "type", "payment_intent.*", "Payment_Intent", "type", "parameter_invalid"),
    (EventListParams, "type", "t" * 200, "t" * 201, "type", "parameter_invalid"),
    (EventListParams, "type", "t", "", "type", "parameter_invalid"),
    (EventListParams, "types", ["refund.created"] * 20, ["refund.created"] * 21, "types",
     "parameter_invalid"),
    (EventListParams, "types", ["refund.created"], [], "types", "parameter_invalid"),
    # URLs: http(s), at most 2,048 characters
    (CreateParams, "return_url", URL + "p" * (2048 - len(URL)), URL + "p" * (2049 - len(URL)),
     "return_url", "parameter_invalid"),
    (ConfirmParams, "return_url", "http://shop.example", "ftp://shop.example", "return_url",
     "parameter_invalid"),
    # metadata: 50 keys of 1 to 40 characters without brackets, values of 500
    (CreateParams, "metadata", metadata(keys=50), metadata(keys=51), "metadata",
     "parameter_invalid"),
    (CreateParams, "metadata", metadata(key="k" * 40), metadata(key="k" * 41), "metadata",
     "parameter_invalid"),
    (CreateParams, "metadata", metadata(key="k"), metadata(key=""), "metadata",
     "parameter_invalid"),
    (CreateParams, "metadata", metadata(key="order"), metadata(key="order[1"), "metadata",
     "parameter_invalid"),
    (CreateParams, "metadata", metadata(key="order"), metadata(key="order]"), "metadata",
     "parameter_invalid"),
    (CreateParams, "metadata", metadata(value="v" * 500), metadata(value="v" * 501), "metadata",
     "parameter_invalid"),
    # payment method types: at least one, none empty
    (CreateParams, "payment_method_types", ["card"], [], "payment_method_types",
     "parameter_invalid"),
    (UpdateParams, "payment_method_types", ["card"], [""], "payment_method_types[0]",
     "parameter_invalid"),
    # the customer's details
    (CreateParams, "receipt_email", "a" * 788 + "@example.com", "a" * 789 + "@example.com",
     "receipt_email", "parameter_invalid"),
    (CreateParams, "receipt_email", "ada@example.com", "ada.example.com", "receipt_email",
     "parameter_invalid"),
    (CreateParams, "shipping", shipping(name="n" * 5000), shipping(name="n" * 5001),
     "shipping[name]", "parameter_invalid"),
    (CreateParams, "shipping", shipping(name="n"), shipping(name=""), "shipping[name]",
     "parameter_invalid"),
    (CreateParams, "shipping", shipping(city="c" * 5000), shipping(city="c" * 5001),
     "shipping[address][city]", "parameter_invalid"),
    (CreateParams, "statement_descriptor_suffix", "s" * 22, "s" * 23,
     "statement_descriptor_suffix", "parameter_invalid"),
    # choices
    (CreateParams, "capture_method", "automatic_async", "later", "capture_method",
     "parameter_invalid"),
    (CreateParams, "confirmation_method", "manual", "by_hand", "confirmation_method",
     "parameter_invalid"),
    (CreateParams, "setup_future_usage", "on_session", "sometimes", "setup_future_usage",
     "parameter_invalid"),
    (CancelParams, "cancellation_reason", "abandoned", "bored", "cancellation_reason",
     "parameter_invalid"),
    (ConfirmParams, "off_session", "recurring", "sometimes", "off_session", "parameter_invalid"),
    (ConfirmParams, "off_session", "true", "yes", "off_session", "parameter_invalid"),
    # card options
    (CreateParams, "payment_method_options", card_options(allowed_bins=["42424242"]),
     card_options(allowed_bins=["424242424"]), "payment_method_options[card][allowed_bins][0]",
     "parameter_invalid"),
    (CreateParams, "payment_method_options", card_options(allowed_bins=["424242"]),
     card_options(allowed_bins=["42424"]), "payment_method_options[card][allowed_bins][0]",
     "parameter_invalid"),
    (CreateParams, "payment_method_options", card_options(allowed_funding=["debit"]),
     card_options(allowed_funding=["prepaid"]),
     "payment_method_options[card][allowed_funding][0]", "parameter_invalid"),
    (CreateParams, "payment_method_options", card_options(request_overcapture="never"),
     card_options(request_overcapture="always"),
     "payment_method_options[card][request_overcapture]", "parameter_invalid"),
    (CreateParams, "payment_method_options", card_options(capture_type="manual"),
     card_options(capture_type="later"), "payment_method_options[card][capture_type]",
     "parameter_invalid"),
    # the test clock moves forward, at most ten years a call
    (AdvanceClockParams, "seconds", TEN_YEARS, TEN_YEARS + 1, "seconds", "parameter_invalid"),
    (AdvanceClockParams, "seconds", 0, -1, "seconds", "parameter_invalid"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("model", "param", "accepted", "refused", "named", "code"),
    LIMITS,
    ids=[f"{m.__name__}.{p}-{n}" for n, (m, p, *_) in enumerate(LIMITS)],
)
def test_a_parameter_at_its_bound_is_accepted_and_one_past_it_refused_naming_it(
    model: type[BaseModel], param: str, accepted: Any, refused: Any, named: str, code: str
) -> None:
    base = BASE.get(model, {})
    assert getattr(parse(model, {**base, param: accepted}), param) is not None
    with pytest.raises(InvalidRequestError) as error:
        parse(model, {**base, param: refused})
    assert (error.value.param, error.value.code) == (named, code)


@pytest.mark.parametrize("status", STATUSES)
def test_a_list_filters_by_each_status_and_no_other_word(status: str) -> None:
    assert parse(ListParams, {"status": status}).status == status
    with pytest.raises(InvalidRequestError) as error:
        parse(ListParams, {"status": status.upper()})
    assert error.value.param == "status"


# -- parameters that depend on each other ----------------------------------------------------------

CARD_DATA = {"type": "card", "card": {"token": "tok_visa"}}


def test_payment_method_data_names_a_test_method() -> None:
    assert parse(ConfirmParams, {"payment_method_data": CARD_DATA}).payment_method == (
        "pm_card_visa"
    )
    bank = parse(ConfirmParams, {"payment_method_data": {"type": "open_banking"}})
    assert bank.payment_method == "pm_open_banking"


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"type": "card"}, "payment_method_data"),
        ({"type": "open_banking", "card": {"token": "tok_visa"}}, "payment_method_data"),
        ({"type": "card", "card": {"token": "visa"}}, "payment_method_data"),
        ({"type": "Card", "card": {"token": "tok_visa"}}, "payment_method_data[type]"),
        ({"type": "t" * 101}, "payment_method_data[type]"),
        ({"type": ""}, "payment_method_data[type]"),
    ],
)
def test_payment_method_data_that_names_no_test_method_is_refused(
    data: dict[str, Any], named: str
) -> None:
    with pytest.raises(InvalidRequestError) as error:
        parse(ConfirmParams, {"payment_method_data": data})
    assert (error.value.param, error.value.code) == (named, "parameter_invalid")


def test_a_type_of_a_hundred_letters_is_a_name() -> None:
    assert parse(ConfirmParams, {"payment_method_data": {"type": "t" * 100}})


def test_payment_method_and_payment_method_data_must_agree() -> None:
    agreed = {"payment_method": "pm_card_visa", "payment_method_data": CARD_DATA}
    assert parse(ConfirmParams, agreed).payment_method == "pm_card_visa"
    with pytest.raises(InvalidRequestError) as error:
        parse(ConfirmParams, {**agreed, "payment_method": "pm_card_mastercard"})
    assert error.value.param == "payment_method_data"


@pytest.mark.parametrize("param", ["off_session", "error_on_requires_action"])
def test_the_confirmation_options_need_confirm(param: str) -> None:
    base = {**BASE[CreateParams], param: True}
    assert getattr(parse(CreateParams, {**base, "confirm": True}), param) is True
    with pytest.raises(InvalidRequestError) as error:
        parse(CreateParams, base)
    assert error.value.param == param


@pytest.mark.parametrize("model", [ListParams, RefundListParams, EventListParams])
def test_a_page_runs_from_one_cursor(model: type[BaseModel]) -> None:
    assert parse(model, {"ending_before": "pi_1"})
    with pytest.raises(InvalidRequestError) as error:
        parse(model, {"starting_after": "pi_1", "ending_before": "pi_2"})
    assert error.value.param == "ending_before"


def test_an_event_list_takes_type_or_types() -> None:
    with pytest.raises(InvalidRequestError) as error:
        parse(EventListParams, {"type": "refund.created", "types": ["refund.created"]})
    assert error.value.param == "types"


def test_a_parameter_of_the_wrong_kind_is_refused_not_converted() -> None:
    with pytest.raises(InvalidRequestError) as error:
        parse(CreateParams, {**BASE[CreateParams], "confirm": "yes"})
    assert error.value.param == "confirm"


def test_a_form_sends_off_session_as_the_words_true_and_false() -> None:
    assert parse(ConfirmParams, {"off_session": "false"}).off_session is False
    assert parse(ConfirmParams, {"off_session": "true"}).off_session is True


@pytest.mark.parametrize(
    ("model", "size"),
    [(ListParams, 10), (RefundListParams, 10), (EventListParams, 10), (SearchParams, 10),
     (EventsParams, 100)],
)  # fmt: skip
def test_a_page_holds_ten_unless_asked_the_event_feed_a_hundred(
    model: type[BaseModel], size: int
) -> None:
    assert parse(model, BASE.get(model, {})).limit == size


def test_a_settlement_succeeds_unless_told_otherwise() -> None:
    assert parse(OutcomeParams, {}).succeed is True


@pytest.mark.parametrize("length", [255, 256])
def test_an_id_in_the_path_is_looked_up_up_to_255_characters(length: int) -> None:
    svc = PaymentIntents()
    with pytest.raises(InvalidRequestError) as error:
        svc.retrieve("pi_" + "a" * (length - 3))
    assert error.value.code == ("resource_missing" if length == 255 else "parameter_invalid")


@pytest.mark.parametrize("unknown", ["pi_\x00", "pi_\ud800"])
def test_an_id_in_the_path_that_no_store_can_keep_is_refused_naming_it(unknown: str) -> None:
    with pytest.raises(InvalidRequestError) as error:
        PaymentIntents().retrieve(unknown)
    assert (error.value.code, error.value.param) == ("parameter_invalid", "intent")
