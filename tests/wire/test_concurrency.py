"""The served API under concurrent requests: one intent is captured once, over SQLite."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from payment_intent import ManualClock
from payment_intent.adapters.sqlite import SQLiteStore
from payment_intent.dialects import Api
from tests.wire.conftest import SEED_KEY, SEED_TIME, bearer, serving


def test_of_many_concurrent_captures_exactly_one_collects(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "served.sqlite3")
    try:
        api = Api.over("casapay", [SEED_KEY], store, clock=ManualClock(SEED_TIME))
        with serving(api) as url:
            held = requests.post(
                f"{url}/v1/payment_intents",
                data={
                    "amount": 5000,
                    "currency": "eur",
                    "capture_method": "manual",
                    "payment_method": "pm_card_visa",
                    "confirm": "true",
                },
                headers=bearer(),
                timeout=10,
            ).json()
            assert held["status"] == "requires_capture"

            def capture(_: int) -> requests.Response:
                return requests.post(
                    f"{url}/v1/payment_intents/{held['id']}/capture", headers=bearer(), timeout=30
                )

            with ThreadPoolExecutor(max_workers=8) as pool:
                responses = list(pool.map(capture, range(8)))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] + [400] * 7
        refused = [r.json()["error"] for r in responses if r.status_code == 400]
        assert {e["code"] for e in refused} == {"payment_intent_unexpected_state"}
        assert all(e["payment_intent"]["amount_received"] == 5000 for e in refused)
        final = store.load(held["id"])
        assert final is not None
        assert final.amount_received == 5000
        assert final.version == 2
    finally:
        store.close()
