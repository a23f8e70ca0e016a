"""Reading requests: bracket forms, JSON, parameter names per dialect, headers and test helpers."""

from __future__ import annotations

import pytest

from payment_intent import InMemoryStore, ManualClock
from payment_intent.dialects import Api
from payment_intent.dialects.forms import coerce, decode_form, decode_json, form_spec
from payment_intent.domain.errors import InvalidRequestError
from payment_intent.domain.params import CreateParams, ListParams
from tests.wire.conftest import SEED_TIME, auth_for, bearer


def test_bracket_forms_nest_as_the_sdks_send_them() -> None:
    form = (
        b"amount=120000&metadata[period]=2025-02&metadata[0]=zero&payment_method_types[]=card"
        b"&payment_method_types[]=open_banking&payment_method_options[card][capture_type]=manual"
        b"&created[gte]=5&payment_methods[0]=card&payment_methods[1]=gcash"
    )
    decoded = decode_form(form)
    assert decoded["metadata"] == {"period": "2025-02", "0": "zero"}
    # Read as the parameter models declare them (create's and list's fields between them).
    types = {**form_spec(CreateParams), **form_spec(ListParams)}
    coerced = {k: coerce(v, types[k]) if k in types else v for k, v in decoded.items()}
    assert coerced["amount"] == 120000
    assert coerced["payment_method_types"] == ["card", "open_banking"]
    assert coerced["payment_method_options"] == {"card": {"capture_type": "manual"}}
    assert coerced["created"] == {"gte": 5}
    assert coerced["metadata"] == {"period": "2025-02", "0": "zero"}  # a hash stays a hash


def test_form_values_that_do_not_read_as_their_type_are_left_for_validation() -> None:
    assert coerce("12x", "int") == "12x"
    assert coerce("9" * 40, "int") == "9" * 40
    assert coerce("yes", "bool") == "yes"
    assert coerce("true", "bool") is True


@pytest.mark.parametrize(
    "body",
    [b"metadata=x&metadata[a]=b", b"metadata[a]=b&metadata=x", b"a[b][c][d][e][f]=1"],
)
def test_contradictory_or_too_deep_forms_are_refused(body: bytes) -> None:
    with pytest.raises(InvalidRequestError):
        decode_form(body)


@pytest.mark.parametrize("body", [b"[1, 2]", b"{", b"\xff", b"1" * 5000, b"[" * 10000])
def test_json_bodies_must_be_objects(body: bytes) -> None:
    with pytest.raises(InvalidRequestError):
        decode_json(body)


def _api(dialect: str) -> Api:
    return Api.over(
        dialect, ["sk_test_4eC39HqLyjWDarjtT1zdp7dc"], InMemoryStore(), clock=ManualClock(SEED_TIME)
    )


def test_casapay_takes_stripes_per_method_capture_option() -> None:
    api = _api("casapay")
    created = api.handle(
        "POST",
        "/v1/payment_intents",
        "",
        bearer(),
        b"amount=5000&currency=eur&payment_method_options[card][capture_method]=manual"
        b"&payment_method=pm_card_visa&confirm=true",
    )
    assert created.body["status"] == "requires_capture"
    assert created.body["payment_method_options"]["card"]["capture_method"] == "manual"
    assert (
        created.body["charges"]["data"][0]["payment_method_details"]["card"]["capture_before"]
        == created.body["capture_before_at"]
    )


def test_payrex_names_are_its_own() -> None:
    api = _api("payrex")
    refused = api.handle(
        "POST",
        "/payment_intents",
        "",
        auth_for("payrex"),
        b"amount=5000&currency=PHP&customer=cus_1",
    )
    assert refused.status == 400
    assert refused.body["errors"][0] == {
        "code": "parameter_invalid",
        "detail": "Received unknown parameter: customer",
        "parameter": "customer",
    }
    created = api.handle(
        "POST",
        "/payment_intents",
        "",
        auth_for("payrex"),
        b"amount=5000&currency=php&customer_id=cus_1",
    ).body
    assert created["customer"] == {"id": "cus_1", "resource": "customer"}
    assert created["currency"] == "PHP"
    missing = api.handle(
        "POST",
        f"/payment_intents/{created['id']}/capture",
        "",
        auth_for("payrex"),
        b"amount_to_capture=5000",
    )
    assert missing.body["errors"][0]["parameter"] == "amount_to_capture"
    assert missing.body["errors"][0]["code"] == "parameter_invalid"


def test_idempotency_key_header_replays_the_first_result() -> None:
    api = _api("casapay")
    headers = {**bearer(), "Idempotency-Key": "checkout-7"}
    first = api.handle("POST", "/v1/payment_intents", "", headers, b"amount=5000&currency=eur")
    again = api.handle("POST", "/v1/payment_intents", "", headers, b"amount=5000&currency=eur")
    assert first.body == again.body
    other = api.handle("POST", "/v1/payment_intents", "", headers, b"amount=6000&currency=eur")
    assert other.status == 400
    assert other.body["error"]["type"] == "idempotency_error"
    # A body parameter of that name is not a way around the header.
    sneaky = api.handle(
        "POST",
        "/v1/payment_intents",
        "",
        bearer(),
        b"amount=5000&currency=eur&idempotency_key=checkout-7",
    )
    assert sneaky.body["error"]["code"] == "parameter_unknown"


def test_asynchronous_methods_settle_through_the_test_helper() -> None:
    api = _api("casapay")
    created = api.handle(
        "POST",
        "/v1/payment_intents",
        "",
        bearer(),
        b"amount=5000&currency=eur&payment_method_types[]=open_banking",
    ).body
    attached = api.handle(
        "POST",
        f"/v1/test_helpers/payment_intents/{created['id']}/attach",
        "",
        bearer(),
        b"payment_method=pm_open_banking",
    ).body
    assert attached["status"] == "processing"
    failed = api.handle(
        "POST",
        f"/v1/test_helpers/payment_intents/{created['id']}/settle",
        "",
        bearer(),
        b"succeed=false",
    ).body
    assert failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"]["code"] == "payment_method_provider_decline"


def test_a_declined_browser_attach_shows_on_the_intent() -> None:
    api = _api("payrex")
    created = api.handle(
        "POST", "/payment_intents", "", auth_for("payrex"), b"amount=5000&currency=PHP"
    ).body
    response = api.handle(
        "POST",
        f"/test_helpers/payment_intents/{created['id']}/attach",
        "",
        auth_for("payrex"),
        b"payment_method=pm_card_visa_chargeDeclined",
    )
    assert response.status == 200
    assert response.body["status"] == "awaiting_payment_method"
    assert response.body["last_payment_error"]["code"] == "card_declined"
    assert response.body["latest_payment"]["status"] == "failed"


def test_clock_advance_expires_holds_and_needs_a_manual_clock() -> None:
    api = _api("payrex")
    held = api.handle(
        "POST",
        "/payment_intents",
        "",
        auth_for("payrex"),
        b"amount=5000&currency=PHP&payment_method_options[card][capture_type]=manual",
    ).body
    api.handle(
        "POST",
        f"/test_helpers/payment_intents/{held['id']}/attach",
        "",
        auth_for("payrex"),
        b"payment_method_id=pm_card_visa",
    )
    moved = api.handle(
        "POST", "/test_helpers/clock/advance", "", auth_for("payrex"), b"seconds=604800"
    )
    assert moved.body == {"resource": "test_clock", "frozen_time": SEED_TIME + 604800}
    events = api.handle("GET", "/events", "", auth_for("payrex")).body["data"]
    assert [e["type"] for e in events] == [
        "payment_intent.created",
        "payment_intent.awaiting_capture",
        "payment_intent.canceled",
    ]
    assert events[1]["previous_attributes"]["status"] == "awaiting_payment_method"
    assert events[2]["data"]["status"] == "canceled"

    system = Api.over("payrex", ["sk_test_4eC39HqLyjWDarjtT1zdp7dc"], InMemoryStore())
    refused = system.handle(
        "POST", "/test_helpers/clock/advance", "", auth_for("payrex"), b"seconds=5"
    )
    assert refused.status == 400
    assert refused.body["errors"][0]["code"] == "clock_not_manual"


def test_unknown_routes_are_404_in_the_dialects_shape() -> None:
    response = _api("casapay").handle("GET", "/v1/customers", "", bearer())
    assert response.status == 404
    assert response.body["error"]["code"] == "resource_missing"
    response = _api("payrex").handle("DELETE", "/payment_intents", "", auth_for("payrex"))
    assert response.body["errors"][0]["code"] == "resource_not_found"


def test_the_authentication_page_answers_only_for_the_attempt_waiting() -> None:
    api = Api.over(
        "payrex",
        ["sk_test_4eC39HqLyjWDarjtT1zdp7dc"],
        InMemoryStore(),
        clock=ManualClock(SEED_TIME),
        origin="http://127.0.0.1:9",
    )
    created = api.handle(
        "POST",
        "/payment_intents",
        "",
        auth_for("payrex"),
        b"amount=5000&currency=PHP&payment_methods[]=gcash",
    ).body
    waiting = api.handle(
        "POST",
        f"/test_helpers/payment_intents/{created['id']}/attach",
        "",
        auth_for("payrex"),
        b"payment_method_id=pm_gcash",
    ).body
    page = waiting["next_action"]["redirect_url"].removeprefix("http://127.0.0.1:9")
    assert api.handle("GET", page).status == 200
    assert api.handle("DELETE", page).status == 401  # not the page: an unauthenticated request
    assert api.handle("GET", page[:-1] + "x").status == 401
    assert api.handle("POST", page, body=b"succeed=maybe").status == 400
    done = api.handle("POST", page, body=b"succeed=false")
    assert done.status == 200  # no return_url: the page says it is done
    assert b"failed" in done.content()
    assert api.handle("GET", page).status == 401
    after = api.handle("GET", f"/payment_intents/{created['id']}", "", auth_for("payrex")).body
    assert after["status"] == "awaiting_payment_method"
