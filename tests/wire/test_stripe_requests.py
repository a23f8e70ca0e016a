"""What CasaPay accepts the way Stripe does, and what it refuses with a 400 that stores nothing:
versions, ``expand[]``, the everyday parameters, Connect, search queries and the events list."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from payment_intent import InMemoryStore, ManualClock
from payment_intent.dialects import Api
from tests.wire.conftest import SEED_TIME, bearer, make_api


@pytest.fixture
def api(store: InMemoryStore, clock: ManualClock) -> Api:
    return make_api("casapay", store, clock)


def send(
    api: Api,
    method: str,
    path: str,
    params: dict[str, Any] | list[tuple[str, str]] | None = None,
    version: str | None = None,
) -> tuple[int, dict[str, Any]]:
    headers = bearer()
    if version is not None:
        headers["Stripe-Version"] = version
    encoded = urlencode(params or {})
    if method == "GET":
        response = api.handle(method, path, encoded, headers)
    else:
        response = api.handle(method, path, "", headers, encoded.encode())
    return response.status, response.body


def create(api: Api, **params: Any) -> dict[str, Any]:
    status, body = send(
        api, "POST", "/v1/payment_intents", {"amount": 5000, "currency": "eur", **params}
    )
    assert status == 200, body
    return body


# -- refused before anything runs ---------------------------------------------------------------


@pytest.mark.parametrize(
    "expand",
    [
        [("expand[]", "")],
        [("expand[]", "latest_charge..id")],
        [("expand[]", ".payment_method")],
        [("expand[]", "Payment_Method")],
        [("expand[]", "charges.data.payment_intent.charges.data")],
        [("expand[]", "amount")],
        [("expand[]", "customer")],
        [("expand[]", "payment_method.id")],
        [("expand[]", "no_such_field")],
        [("expand[when]", "now")],
        [("expand", "x" * 5000)],
    ],
)
def test_a_malformed_or_unexpandable_path_is_a_400_naming_expand_and_stores_nothing(
    api: Api, store: InMemoryStore, expand: list[tuple[str, str]]
) -> None:
    before = store.snapshot()
    status, body = send(
        api, "POST", "/v1/payment_intents", [("amount", "5000"), ("currency", "eur"), *expand]
    )
    assert status == 400, body
    assert body["error"]["param"] == "expand"
    assert store.snapshot() == before


@pytest.mark.parametrize(
    "version",
    [
        "2099-01-01",
        "2025-01-01.basil",
        "2024-09-30.zinnia",
        "latest",
        "2020-08-27.acacia",
        "x" * 300,
    ],
)
def test_an_unknown_stripe_version_is_a_400_and_stores_nothing(
    api: Api, store: InMemoryStore, version: str
) -> None:
    before = store.snapshot()
    status, body = send(
        api, "POST", "/v1/payment_intents", {"amount": 5000, "currency": "eur"}, version
    )
    assert status == 400
    assert body["error"]["code"] == "api_version_invalid"
    assert "Invalid Stripe API version" in body["error"]["message"]
    assert len(body["error"]["message"]) < 400
    assert store.snapshot() == before


def test_a_monthly_version_of_a_known_release_is_read_as_that_release(api: Api) -> None:
    status, body = send(api, "GET", "/v1/payment_intents", None, "2026-12-16.endive")
    assert status == 200, body


def test_automatic_async_exists_from_2024_04_10_and_is_then_the_default(api: Api) -> None:
    status, body = send(
        api,
        "POST",
        "/v1/payment_intents",
        {"amount": 5000, "currency": "eur", "capture_method": "automatic_async"},
        "2023-10-16",
    )
    assert (status, body["error"]["param"]) == (400, "capture_method")
    assert create(api)["capture_method"] == "automatic"
    status, body = send(
        api, "POST", "/v1/payment_intents", {"amount": 5000, "currency": "eur"}, "2024-04-10"
    )
    assert body["capture_method"] == "automatic_async"
    status, paid = send(
        api,
        "POST",
        f"/v1/payment_intents/{body['id']}/confirm",
        {"payment_method": "pm_card_visa"},
        "2024-04-10",
    )
    assert paid["status"] == "succeeded"


@pytest.mark.parametrize(
    "name",
    ["application_fee_amount", "on_behalf_of", "transfer_group", "transfer_data[destination]"],
)
def test_connect_parameters_are_refused_as_connect_not_as_unknown(
    api: Api, store: InMemoryStore, name: str
) -> None:
    status, body = send(
        api, "POST", "/v1/payment_intents", {"amount": 5000, "currency": "eur", name: "acct_1"}
    )
    assert status == 400
    assert body["error"]["code"] != "parameter_unknown"
    assert "Connect" in body["error"]["message"]
    assert len(store) == 0


def test_a_request_for_a_connected_account_is_refused_as_connect(
    api: Api, store: InMemoryStore
) -> None:
    response = api.handle(
        "POST",
        "/v1/payment_intents",
        "",
        {**bearer(), "Stripe-Account": "acct_1Connected"},
        b"amount=5000&currency=eur",
    )
    assert response.status == 400
    assert "Connect" in response.body["error"]["message"]
    assert len(store) == 0


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"off_session": "true"}, "off_session"),
        ({"error_on_requires_action": "true"}, "error_on_requires_action"),
        ({"setup_future_usage": "always"}, "setup_future_usage"),
        ({"shipping[name]": "Ada"}, "shipping[address]"),
        ({"shipping[address][line1]": "1 Main St"}, "shipping[name]"),
        ({"receipt_email": "not-an-address"}, "receipt_email"),
        ({"statement_descriptor_suffix": "X" * 23}, "statement_descriptor_suffix"),
        ({"payment_method_data[type]": "card"}, "payment_method_data"),
    ],
)
def test_everyday_parameters_are_validated_as_stripe_does(
    api: Api, store: InMemoryStore, params: dict[str, str], param: str
) -> None:
    status, body = send(
        api, "POST", "/v1/payment_intents", {"amount": 5000, "currency": "eur", **params}
    )
    assert status == 400, body
    assert body["error"]["param"] == param
    assert len(store) == 0


# -- the everyday parameters, stored and shown -------------------------------------------------


def test_receipt_email_shipping_suffix_and_future_usage_are_kept_and_cleared(api: Api) -> None:
    intent = create(
        api,
        **{
            "receipt_email": "tenant@example.com",
            "shipping[name]": "Ada Lovelace",
            "shipping[address][line1]": "12 St James's Square",
            "shipping[address][country]": "GB",
            "statement_descriptor_suffix": "RENT FEB",
            "setup_future_usage": "off_session",
        },
    )
    assert intent["receipt_email"] == "tenant@example.com"
    assert intent["shipping"]["name"] == "Ada Lovelace"
    assert intent["shipping"]["address"] == {
        "line1": "12 St James's Square",
        "line2": None,
        "city": None,
        "state": None,
        "postal_code": None,
        "country": "GB",
    }
    assert intent["statement_descriptor_suffix"] == "RENT FEB"
    assert intent["setup_future_usage"] == "off_session"
    status, cleared = send(
        api,
        "POST",
        f"/v1/payment_intents/{intent['id']}",
        {"receipt_email": "", "shipping": "", "setup_future_usage": ""},
    )
    assert status == 200
    assert (cleared["receipt_email"], cleared["shipping"], cleared["setup_future_usage"]) == (
        None,
        None,
        None,
    )


def test_customer_can_be_set_on_update_and_metadata_emptied_with_an_empty_string(api: Api) -> None:
    intent = create(api, **{"metadata[a]": "1", "metadata[b]": "2"})
    status, updated = send(
        api, "POST", f"/v1/payment_intents/{intent['id']}", {"customer": "cus_new", "metadata": ""}
    )
    assert status == 200, updated
    assert updated["customer"] == "cus_new"
    assert updated["metadata"] == {}


def test_capture_takes_metadata(api: Api) -> None:
    held = create(api, capture_method="manual", payment_method="pm_card_visa", confirm="true")
    status, captured = send(
        api, "POST", f"/v1/payment_intents/{held['id']}/capture", {"metadata[shipped]": "yes"}
    )
    assert status == 200
    assert captured["metadata"] == {"shipped": "yes"}


def test_payment_method_data_with_a_test_token_pays_with_its_test_method(api: Api) -> None:
    paid = create(
        api,
        **{
            "payment_method_data[type]": "card",
            "payment_method_data[card][token]": "tok_mastercard",
            "confirm": "true",
        },
    )
    assert (paid["status"], paid["payment_method"]) == ("succeeded", "pm_card_mastercard")


@pytest.mark.parametrize("flag", ["off_session", "error_on_requires_action"])
def test_an_authentication_that_cannot_be_asked_for_is_a_decline(api: Api, flag: str) -> None:
    status, body = send(
        api,
        "POST",
        "/v1/payment_intents",
        {
            "amount": 5000,
            "currency": "eur",
            "payment_method": "pm_card_threeDSecure2Required",
            "confirm": "true",
            flag: "true",
        },
    )
    assert status == 402
    error = body["error"]
    assert (error["code"], error["decline_code"]) == ("authentication_required",) * 2
    assert error["payment_intent"]["status"] == "requires_payment_method"
    assert error["payment_method"]["card"]["last4"] == "3220"
    assert error["charge"] == error["payment_intent"]["latest_charge"]


def test_last_payment_error_carries_the_full_method_after_a_failed_authentication(
    api: Api,
) -> None:
    secure = create(
        api,
        payment_method="pm_card_threeDSecure2Required",
        confirm="true",
        return_url="https://a.b",
    )
    _, failed = send(
        api,
        "POST",
        f"/v1/test_helpers/payment_intents/{secure['id']}/complete_action",
        {"succeed": "false"},
    )
    error = failed["last_payment_error"]
    assert error["code"] == "payment_intent_authentication_failure"
    assert error["doc_url"].endswith("/payment-intent-authentication-failure")
    method = error["payment_method"]
    assert {"billing_details", "created", "livemode", "type"} <= set(method)
    assert (method["type"], method["card"]["brand"]) == ("card", "visa")


# -- expand --------------------------------------------------------------------------------------


def test_expand_replaces_ids_with_objects_at_every_level(api: Api) -> None:
    paid = create(api, payment_method="pm_card_visa", confirm="true")
    path = f"/v1/payment_intents/{paid['id']}"
    status, body = send(
        api,
        "GET",
        path,
        [("expand[]", "latest_charge.payment_intent"), ("expand[]", "payment_method")],
        "2026-10-28.endive",
    )
    assert status == 200, body
    assert body["latest_charge"]["object"] == "charge"
    assert body["latest_charge"]["payment_intent"]["id"] == paid["id"]
    assert body["payment_method"]["card"]["last4"] == "4242"
    status, listed = send(api, "GET", "/v1/payment_intents", [("expand[]", "data.payment_method")])
    assert listed["data"][0]["payment_method"]["object"] == "payment_method"
    status, old = send(api, "GET", path, [("expand[]", "charges.data.payment_intent")])
    assert old["charges"]["data"][0]["payment_intent"]["id"] == paid["id"]
    # The newer shape has no charges list to expand into.
    status, _ = send(api, "GET", path, [("expand[]", "charges")], "2026-10-28.endive")
    assert status == 400


# -- search --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "",
        "status:",
        "status:succeeded",
        "colour:'red'",
        "amount:'1000'",
        "currency>'eur'",
        "status:'succeeded' AND",
        "AND status:'succeeded'",
        "status:'a' AND amount>1 OR amount<5",
        "metadata:'x'",
        "metadata['order':'x'",
        "status:'succeeded",
        " OR ".join(["amount>1"] * 11),
        "amount>" + "9" * 1000,
    ],
)
def test_a_malformed_or_oversize_search_query_is_a_400_naming_query(api: Api, query: str) -> None:
    status, body = send(api, "GET", "/v1/payment_intents/search", {"query": query})
    assert status == 400, body
    assert body["error"]["param"] == "query"


def test_search_filters_pages_and_marks_where_more_lie(api: Api, clock: ManualClock) -> None:
    made = []
    for index in range(5):
        clock.advance(10)
        made.append(
            create(
                api,
                amount=1000 * (index + 1),
                customer="cus_a" if index % 2 == 0 else "cus_b",
                **{"metadata[order]": f"o{index}"},
            )
        )
    status, page = send(
        api,
        "GET",
        "/v1/payment_intents/search",
        {"query": 'customer:"cus_a" AND amount>=2000', "limit": 1},
    )
    assert status == 200, page
    assert [i["id"] for i in page["data"]] == [made[4]["id"]]
    assert page["has_more"] is True
    status, rest = send(
        api,
        "GET",
        "/v1/payment_intents/search",
        {"query": 'customer:"cus_a" AND amount>=2000', "limit": 1, "page": page["next_page"]},
    )
    assert [i["id"] for i in rest["data"]] == [made[2]["id"]]
    assert (rest["has_more"], rest["next_page"]) == (False, None)
    status, either = send(
        api,
        "GET",
        "/v1/payment_intents/search",
        {"query": "metadata['order']:'o1' OR -customer:\"cus_a\" OR amount<1500"},
    )
    assert [i["id"] for i in either["data"]] == [made[3]["id"], made[1]["id"], made[0]["id"]]


def test_search_shows_a_lapsed_hold_as_canceled(api: Api, clock: ManualClock) -> None:
    held = create(api, capture_method="manual", payment_method="pm_card_visa", confirm="true")
    clock.advance(8 * 24 * 3600)
    _, page = send(api, "GET", "/v1/payment_intents/search", {"query": "amount:5000"})
    assert [(i["id"], i["status"]) for i in page["data"]] == [(held["id"], "canceled")]
    _, unpaid = send(
        api, "GET", "/v1/payment_intents/search", {"query": 'amount:5000 AND -status:"canceled"'}
    )
    assert unpaid["data"] == []
    # Through the store's status index too: a lapsed hold is filed as canceled, not held.
    _, canceled = send(api, "GET", "/v1/payment_intents/search", {"query": 'status:"canceled"'})
    assert [i["id"] for i in canceled["data"]] == [held["id"]]
    _, holding = send(
        api, "GET", "/v1/payment_intents/search", {"query": 'status:"requires_capture"'}
    )
    assert holding["data"] == []


def test_a_token_with_no_test_method_is_no_such_payment_method(
    api: Api, store: InMemoryStore
) -> None:
    status, body = send(
        api,
        "POST",
        "/v1/payment_intents",
        {
            "amount": 5000,
            "currency": "eur",
            "payment_method_data[type]": "card",
            "payment_method_data[card][token]": "tok_nope",
        },
    )
    assert (status, body["error"]["code"]) == (404, "resource_missing")
    assert body["error"]["param"] == "payment_method_data"
    assert len(store) == 0


# -- events --------------------------------------------------------------------------------------


def test_events_are_listed_newest_first_by_type_and_time_with_cursors(
    api: Api, clock: ManualClock
) -> None:
    first = create(api)
    clock.advance(100)
    paid = create(api, payment_method="pm_card_visa", confirm="true")
    _, page = send(api, "GET", "/v1/events")
    types = [e["type"] for e in page["data"]]
    assert types == ["payment_intent.succeeded", "payment_intent.created", "payment_intent.created"]
    assert page["data"][0]["data"]["object"]["id"] == paid["id"]
    _, only = send(api, "GET", "/v1/events", {"type": "payment_intent.created"})
    assert [e["data"]["object"]["id"] for e in only["data"]] == [paid["id"], first["id"]]
    _, wildcard = send(api, "GET", "/v1/events", [("types[]", "payment_intent.succ*")])
    assert [e["type"] for e in wildcard["data"]] == ["payment_intent.succeeded"]
    _, early = send(api, "GET", "/v1/events", {"created[lt]": SEED_TIME + 100})
    assert [e["data"]["object"]["id"] for e in early["data"]] == [first["id"]]
    _, one = send(api, "GET", "/v1/events", {"limit": 1})
    assert one["has_more"] is True
    _, older = send(api, "GET", "/v1/events", {"starting_after": one["data"][0]["id"]})
    assert [e["type"] for e in older["data"]] == types[1:]
    _, newer = send(api, "GET", "/v1/events", {"ending_before": older["data"][-1]["id"]})
    assert [e["type"] for e in newer["data"]] == types[:2]
    _, fetched = send(api, "GET", f"/v1/events/{one['data'][0]['id']}")
    assert fetched == one["data"][0]
    _, feed = send(api, "GET", "/v1/events_feed")
    assert [e["type"] for e in feed["data"]] == list(reversed(types))


@pytest.mark.parametrize(
    ("params", "status_code"),
    [
        ({"type": "payment_intent.created", "types[0]": "payment_intent.succeeded"}, 400),
        ({"type": "Payment Intent"}, 400),
        ({"starting_after": "evt_missing"}, 404),
        ({"limit": "1000"}, 400),
    ],
)
def test_an_events_list_that_cannot_be_answered_is_refused(
    api: Api, params: dict[str, str], status_code: int
) -> None:
    status, _ = send(api, "GET", "/v1/events", params)
    assert status == status_code
    assert send(api, "GET", "/v1/events/evt_missing")[0] == 404


@pytest.mark.parametrize(
    "query", ["amount:777", 'amount:777 OR customer:"cus_nobody"', "amount:777 OR amount:778"]
)
def test_a_search_scan_stops_at_its_budget_and_its_next_page_resumes_it(
    api: Api, clock: ManualClock, monkeypatch: pytest.MonkeyPatch, query: str
) -> None:
    from payment_intent.dialects import stripe_lists

    expected = []
    for index in range(12):
        clock.advance(1)
        made = create(api, amount=777 if index in (1, 2, 9) else 1000 + index)
        expected.append(made["id"])
    wanted = [expected[9], expected[2], expected[1]]
    # A page reads at most this many rows, so an unindexed query over 12 takes several pages.
    monkeypatch.setattr(stripe_lists, "SCAN_BUDGET", 4)
    seen: list[str] = []
    pages = 0
    params: dict[str, Any] = {"query": query, "limit": 2}
    while True:
        pages += 1
        status, page = send(api, "GET", "/v1/payment_intents/search", params)
        assert status == 200, page
        seen.extend(i["id"] for i in page["data"])
        if not page["has_more"]:
            assert page["next_page"] is None
            break
        params = {**params, "page": page["next_page"]}
        assert pages < 20
    assert seen == wanted
    assert pages > 2


def test_a_search_page_token_not_made_by_the_server_is_refused(api: Api) -> None:
    status, body = send(
        api, "GET", "/v1/payment_intents/search", {"query": "amount>1", "page": "not-a-token!"}
    )
    assert (status, body["error"]["param"]) == (400, "page")
