"""Keys: who may call, which mode they see, and what a browser with a client secret is shown."""

from __future__ import annotations

import base64
from unittest.mock import ANY

import pytest

from payment_intent import InMemoryStore, ManualClock
from payment_intent.dialects import Api, ApiKeys
from tests.wire.conftest import (
    LIVE_KEY,
    PUBLISHABLE_KEY,
    SEED_KEY,
    SEED_TIME,
    auth_for,
    basic,
    bearer,
    make_api,
)

PATHS = {"casapay": "/v1/payment_intents", "payrex": "/payment_intents"}
CREATE = {"casapay": b"amount=5000&currency=eur", "payrex": b"amount=5000&currency=PHP"}


def _two_modes(dialect: str) -> tuple[Api, InMemoryStore, InMemoryStore]:
    test_store, live_store = InMemoryStore(), InMemoryStore()
    api = make_api(
        dialect,
        test_store,
        ManualClock(SEED_TIME),
        live_store=live_store,
        keys=(SEED_KEY, LIVE_KEY, PUBLISHABLE_KEY),
    )
    return api, test_store, live_store


@pytest.mark.parametrize("dialect", ["casapay", "payrex"])
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer sk_test_wrongwrongwrong"},
        {"Authorization": "Basic " + base64.b64encode(b"sk_test_wrongwrongwrong:").decode()},
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Bearer"},
        {"Authorization": "Digest sk_test_4eC39HqLyjWDarjtT1zdp7dc"},
    ],
)
def test_missing_or_wrong_key_is_a_401_in_the_dialects_shape(
    dialect: str, headers: dict[str, str]
) -> None:
    store = InMemoryStore()
    api = make_api(dialect, store, ManualClock(SEED_TIME))
    response = api.handle("POST", PATHS[dialect], "", headers, CREATE[dialect])
    assert response.status == 401
    if dialect == "casapay":
        # Stripe's 401: an invalid_request_error with a message and nothing else.
        assert response.body == {"error": {"type": "invalid_request_error", "message": ANY}}
    else:
        assert response.body["errors"][0]["code"] == "authentication_invalid"
    assert store.snapshot() == InMemoryStore().snapshot()


def test_each_dialect_takes_only_its_own_way_of_presenting_the_key() -> None:
    casapay = make_api("casapay", InMemoryStore(), ManualClock(SEED_TIME))
    payrex = make_api("payrex", InMemoryStore(), ManualClock(SEED_TIME))
    # Stripe documents Basic first (curl -u sk_test_…:), and the SDKs send Bearer.
    assert casapay.handle("GET", PATHS["casapay"], "", basic()).status == 200
    assert casapay.handle("GET", PATHS["casapay"], "", bearer()).status == 200
    assert payrex.handle("GET", PATHS["payrex"], "", bearer()).status == 401
    assert payrex.handle("GET", PATHS["payrex"], "", basic()).status == 200


@pytest.mark.parametrize("dialect", ["casapay", "payrex"])
def test_the_keys_mode_sets_livemode_and_modes_never_meet(dialect: str) -> None:
    api, test_store, live_store = _two_modes(dialect)
    live = api.handle("POST", PATHS[dialect], "", auth_for(dialect, LIVE_KEY), CREATE[dialect])
    test = api.handle("POST", PATHS[dialect], "", auth_for(dialect, SEED_KEY), CREATE[dialect])
    assert (live.body["livemode"], test.body["livemode"]) == (True, False)
    assert len(live_store) == 1
    assert len(test_store) == 1

    seen_by_test = api.handle("GET", f"{PATHS[dialect]}/{live.body['id']}", "", auth_for(dialect))
    assert seen_by_test.status == 404
    listed = api.handle("GET", PATHS[dialect], "", auth_for(dialect)).body
    assert [i["id"] for i in listed["data"]] == [test.body["id"]]
    canceled = api.handle(
        "POST", f"{PATHS[dialect]}/{live.body['id']}/cancel", "", auth_for(dialect), b""
    )
    assert canceled.status == 404
    # Test helpers are for test mode only.
    helper = api.handle(
        "POST",
        f"{PATHS[dialect].removesuffix('/payment_intents')}"
        f"/test_helpers/payment_intents/{live.body['id']}/attach",
        "",
        auth_for(dialect, LIVE_KEY),
        b"payment_method=pm_card_visa",
    )
    assert helper.status == 404


def test_modes_refuse_to_share_a_store() -> None:
    store = InMemoryStore()
    with pytest.raises(ValueError, match="share"):
        make_api(
            "casapay", store, ManualClock(SEED_TIME), live_store=store, keys=(SEED_KEY, LIVE_KEY)
        )
    with pytest.raises(ValueError, match="live-mode key"):
        make_api("casapay", store, ManualClock(SEED_TIME), keys=(SEED_KEY, LIVE_KEY))


def test_keys_are_validated_when_configured() -> None:
    with pytest.raises(ValueError, match="sk_test_"):
        ApiKeys(["secret"])
    with pytest.raises(ValueError, match="at least one"):
        ApiKeys.from_text(" , ")
    assert ApiKeys.from_text(f"{SEED_KEY}, {LIVE_KEY}").modes == {False, True}


@pytest.mark.parametrize("dialect", ["casapay", "payrex"])
def test_client_secret_retrieval_shows_only_public_fields(dialect: str) -> None:
    api, _, _ = _two_modes(dialect)
    created = api.handle(
        "POST", PATHS[dialect], "", auth_for(dialect), CREATE[dialect] + b"&metadata[order]=42"
    ).body
    path = f"{PATHS[dialect]}/{created['id']}"
    public = api.handle(
        "GET", path, f"client_secret={created['client_secret']}", auth_for(dialect, PUBLISHABLE_KEY)
    )
    assert public.status == 200
    assert public.body["id"] == created["id"]
    assert set(public.body) < set(created)
    for private in ("metadata", "customer", "amount_received"):
        assert private not in public.body
    for field in public.body:
        assert public.body[field] == created[field], field

    wrong = api.handle(
        "GET", path, "client_secret=pi_x_secret_y", auth_for(dialect, PUBLISHABLE_KEY)
    )
    assert wrong.status == 400
    assert "metadata" not in str(wrong.body)
    # A publishable key can do nothing else.
    assert api.handle("GET", path, "", auth_for(dialect, PUBLISHABLE_KEY)).status == 401
    assert (
        api.handle(
            "POST", PATHS[dialect], "", auth_for(dialect, PUBLISHABLE_KEY), CREATE[dialect]
        ).status
        == 401
    )
