"""Amounts a person reads are in major units, with as many decimals as the currency has."""

from __future__ import annotations

import pytest

from payment_intent import InMemoryStore, ManualClock
from payment_intent.dialects import Api
from payment_intent.domain.currencies import in_major_units
from tests.wire.conftest import SEED_KEY, SEED_TIME, auth_for


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (4999, "eur", "49.99 EUR"),
        (50, "usd", "0.50 USD"),
        (120000, "PHP", "1200.00 PHP"),
        (5000, "jpy", "5000 JPY"),  # yen have no minor unit
        (1500, "kwd", "1.500 KWD"),  # three decimals
        (7, "clf", "0.0007 CLF"),  # four
    ],
)
def test_an_amount_reads_in_the_currencys_major_unit(
    amount: int, currency: str, shown: str
) -> None:
    assert in_major_units(amount, currency) == shown


@pytest.mark.parametrize(
    ("dialect", "form", "shown"),
    [
        ("casapay", b"amount=4999&currency=eur", "49.99 EUR"),
        ("casapay", b"amount=5000&currency=jpy", "5000 JPY"),
        ("payrex", b"amount=250000&currency=PHP", "2500.00 PHP"),
    ],
)
def test_the_3d_secure_page_shows_the_amount_as_a_customer_reads_it(
    dialect: str, form: bytes, shown: str
) -> None:
    origin = "http://127.0.0.1:9"
    api = Api.over(
        dialect, [SEED_KEY], InMemoryStore(), clock=ManualClock(SEED_TIME), origin=origin
    )
    prefix = "/v1" if dialect == "casapay" else ""
    method = "payment_method" if dialect == "casapay" else "payment_method_id"
    created = api.handle("POST", f"{prefix}/payment_intents", "", auth_for(dialect), form).body
    waiting = api.handle(
        "POST",
        f"{prefix}/test_helpers/payment_intents/{created['id']}/attach",
        "",
        auth_for(dialect),
        f"{method}=pm_card_threeDSecure2Required&return_url=https://example.com/done".encode(),
    ).body
    assert waiting["status"] in ("requires_action", "awaiting_next_action")
    action = waiting["next_action"]
    url = action["redirect_url"] if dialect == "payrex" else action["redirect_to_url"]["url"]
    page = api.handle("GET", url.removeprefix(origin)).content().decode()
    assert f"authenticate the payment of {shown}." in page
    assert "minor units" not in page
