"""Webhook endpoints through each provider's own API: the official SDKs manage them unmodified,
and bad input is a 400 naming the parameter, with nothing stored."""

from __future__ import annotations

from collections.abc import Iterator

import payrex
import pytest
import requests
import stripe

from payment_intent import InMemoryStore, ManualClock
from payment_intent.dialects import Api
from tests.webhooks.provider import Provider, providing
from tests.wire.conftest import LIVE_KEY, SEED_KEY, SEED_TIME, auth_for, serving


@pytest.fixture
def casapay() -> Iterator[Provider]:
    with providing("casapay", InMemoryStore(), start_worker=False) as provider:
        yield provider


@pytest.fixture
def payrex_provider() -> Iterator[Provider]:
    with providing("payrex", InMemoryStore(), start_worker=False) as provider:
        yield provider


def test_stripes_webhook_endpoint_resource_works_unmodified(
    casapay: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stripe, "api_key", SEED_KEY)
    monkeypatch.setattr(stripe, "api_base", casapay.url)
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    created = stripe.WebhookEndpoint.create(
        url="https://shop.example/stripe/webhook",
        enabled_events=["payment_intent.succeeded", "payment_intent.payment_failed"],
        description="orders",
        metadata={"team": "checkout"},
    )
    assert isinstance(created, stripe.WebhookEndpoint)
    assert created.id.startswith("we_")
    assert created.secret.startswith("whsec_")
    assert created.status == "enabled"
    assert created.livemode is False
    assert created.enabled_events == ["payment_intent.succeeded", "payment_intent.payment_failed"]

    fetched = stripe.WebhookEndpoint.retrieve(created.id)
    assert fetched.url == created.url
    assert "secret" not in fetched

    updated = stripe.WebhookEndpoint.modify(
        created.id, disabled=True, metadata={"team": "", "owner": "ana"}, enabled_events=["*"]
    )
    assert updated.status == "disabled"
    assert updated.enabled_events == ["*"]
    assert updated.metadata.to_dict() == {"owner": "ana"}

    second = stripe.WebhookEndpoint.create(url="http://127.0.0.1:3000/hook", enabled_events=["*"])
    listed = stripe.WebhookEndpoint.list(limit=1)
    assert [e.id for e in listed.data] == [second.id]
    assert listed.has_more
    assert [e.id for e in listed.auto_paging_iter()] == [second.id, created.id]

    deleted = stripe.WebhookEndpoint.delete(created.id)
    assert deleted.deleted is True
    assert deleted.id == created.id
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe.WebhookEndpoint.retrieve(created.id)
    assert missing.value.http_status == 404


def test_the_stripe_client_manages_endpoints_too(casapay: Provider) -> None:
    client = stripe.StripeClient(
        SEED_KEY, base_addresses={"api": casapay.url}, max_network_retries=0
    )
    made = client.v1.webhook_endpoints.create(
        params={
            "url": "https://shop.example/hook",
            "enabled_events": ["*"],
            "api_version": "2024-06-20",
        }
    )
    assert made.api_version == "2024-06-20"
    assert client.v1.webhook_endpoints.retrieve(made.id).api_version == "2024-06-20"


def test_payrex_pythons_webhook_service_works_unmodified(payrex_provider: Provider) -> None:
    client = payrex.Client(SEED_KEY)
    client.config.api_base_url = payrex_provider.url
    created = client.webhooks.create(
        {"url": "https://shop.example/payrex", "events": ["payment_intent.succeeded"],
         "description": "orders"}
    )  # fmt: skip
    assert created.id.startswith("wh_")
    assert created.secret_key.startswith("whsk_")
    assert (created.status, created.events, created.livemode) == (
        "enabled", ["payment_intent.succeeded"], False,
    )  # fmt: skip

    updated = client.webhooks.update(
        created.id, {"events": ["payment_intent.awaiting_capture"], "description": "holds"}
    )
    assert updated.events == ["payment_intent.awaiting_capture"]
    assert updated.description == "holds"
    assert client.webhooks.disable(created.id).status == "disabled"
    assert client.webhooks.retrieve(created.id).status == "disabled"
    assert client.webhooks.enable(created.id).status == "enabled"

    listed = client.webhooks.list({"limit": 10})
    assert [w.id for w in listed.data] == [created.id]
    assert listed.has_more is False

    deleted = client.webhooks.delete(created.id)
    assert deleted.deleted is True
    with pytest.raises(payrex.ResourceNotFoundException):
        client.webhooks.retrieve(created.id)


HOOK = "https://shop.example/hook"
ALL = {"enabled_events[0]": "*"}
CASAPAY_BAD = [
    ({"url": "ftp://shop.example/hook", **ALL}, "url"),
    ({"url": "javascript:alert(1)", **ALL}, "url"),
    ({"url": "http:///no-host", **ALL}, "url"),
    ({"url": "https://shop.example/" + "a" * 2100, **ALL}, "url"),
    ({"url": HOOK, "enabled_events[0]": "charge.succeeded"}, "enabled_events"),
    ({"url": HOOK}, "enabled_events"),
    (ALL, "url"),
    ({"url": HOOK, **ALL, "description": "d" * 1001}, "description"),
    ({"url": HOOK, **ALL, "api_version": "yesterday"}, "api_version"),
    ({"url": HOOK, **ALL, "metadata[k]": "v" * 501}, "metadata"),
    ({"url": HOOK, **ALL, "secret": "whsec_mine"}, "secret"),
]


@pytest.mark.parametrize(("fields", "param"), CASAPAY_BAD)
def test_a_bad_casapay_endpoint_is_a_400_naming_the_parameter_and_nothing_is_stored(
    casapay: Provider, fields: dict[str, str], param: str
) -> None:
    response = casapay.call("POST", "/webhook_endpoints", **fields)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] is not None
    assert error["param"].startswith(param)
    assert param.split("[")[0] in error["message"]
    assert casapay.hooks.endpoints() == []


SUCCEEDED = {"events[0]": "payment_intent.succeeded"}
PAYREX_BAD = [
    ({"url": "file:///etc/passwd", **SUCCEEDED}, "url"),
    ({"url": HOOK, "events[0]": "payment_intent.amount_capturable_updated"}, "events"),
    ({"url": HOOK, "events[0]": "*"}, "events"),
    ({"url": HOOK}, "events"),
    ({"url": HOOK, **SUCCEEDED, "description": "d" * 1001}, "description"),
]


@pytest.mark.parametrize(("fields", "param"), PAYREX_BAD)
def test_a_bad_payrex_webhook_is_a_400_naming_the_parameter_and_nothing_is_stored(
    payrex_provider: Provider, fields: dict[str, str], param: str
) -> None:
    response = payrex_provider.call("POST", "/webhooks", **fields)
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["parameter"].startswith(param)
    assert error["code"].startswith("parameter_")
    assert payrex_provider.hooks.endpoints() == []


def test_a_bad_update_changes_nothing(casapay: Provider) -> None:
    made = casapay.add_endpoint("https://shop.example/hook")
    response = casapay.call(
        "POST", f"/webhook_endpoints/{made['id']}", url="gopher://x", disabled="true"
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "url"
    (stored,) = casapay.hooks.endpoints()
    assert stored.url == "https://shop.example/hook"
    assert stored.status == "enabled"


def test_a_mode_has_at_most_sixteen_endpoints(casapay: Provider) -> None:
    for number in range(16):
        casapay.add_endpoint(f"https://shop.example/hook/{number}")
    response = casapay.call(
        "POST", "/webhook_endpoints", url="https://shop.example/17", **{"enabled_events[0]": "*"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "webhook_endpoints_limit"
    assert len(casapay.hooks.endpoints()) == 16


def test_an_unknown_endpoint_is_a_404_in_each_dialect(
    casapay: Provider, payrex_provider: Provider
) -> None:
    assert casapay.call("GET", "/webhook_endpoints/we_nothing").status_code == 404
    response = payrex_provider.call("DELETE", "/webhooks/wh_nothing")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "resource_not_found"


def test_endpoints_belong_to_the_mode_of_the_key_that_made_them() -> None:
    test_store, live_store = InMemoryStore(), InMemoryStore()
    api = Api.over("casapay", [SEED_KEY, LIVE_KEY], test_store, live_store=live_store,
                   clock=ManualClock(SEED_TIME))  # fmt: skip
    with serving(api) as url:
        made = requests.post(
            f"{url}/v1/webhook_endpoints", headers=auth_for("casapay", LIVE_KEY),
            data={"url": "https://shop.example/live", "enabled_events[0]": "*"}, timeout=10,
        ).json()  # fmt: skip
        as_test = requests.get(
            f"{url}/v1/webhook_endpoints/{made['id']}", headers=auth_for("casapay"), timeout=10
        )
        as_live = requests.get(
            f"{url}/v1/webhook_endpoints", headers=auth_for("casapay", LIVE_KEY), timeout=10
        )
    assert made["livemode"] is True
    assert as_test.status_code == 404
    assert [e["id"] for e in as_live.json()["data"]] == [made["id"]]


def test_the_reset_forgets_a_test_modes_data_and_is_out_of_reach_of_live_keys() -> None:
    test_store, live_store = InMemoryStore(), InMemoryStore()
    api = Api.over("casapay", [SEED_KEY, LIVE_KEY], test_store, live_store=live_store,
                   clock=ManualClock(SEED_TIME))  # fmt: skip
    with serving(api) as url:

        def call(method: str, path: str, key: str = SEED_KEY, **data: str) -> requests.Response:
            return requests.request(method, url + path, headers=auth_for("casapay", key),
                                    data=data or None, timeout=10)  # fmt: skip

        intent = call("POST", "/v1/payment_intents", amount="100", currency="eur").json()
        call("POST", "/v1/payment_intents", key=LIVE_KEY, amount="100", currency="eur")
        call(
            "POST", "/v1/webhook_endpoints", url="https://x.example/h", **{"enabled_events[0]": "*"}
        )
        assert call("DELETE", "/_config/data", key=LIVE_KEY).status_code == 404
        assert call("DELETE", "/_config/data").status_code == 200
        assert call("GET", f"/v1/payment_intents/{intent['id']}").status_code == 404
        assert call("GET", "/v1/events").json()["data"] == []
        assert call("GET", "/v1/webhook_endpoints").json()["data"] == []
        assert len(call("GET", "/v1/payment_intents", key=LIVE_KEY).json()["data"]) == 1
        again = call("POST", "/v1/payment_intents", amount="100", currency="eur")
        assert again.status_code == 200  # the reset mode keeps working
