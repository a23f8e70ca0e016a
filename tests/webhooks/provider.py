"""A local provider for the webhook tests: the API served on loopback with a delivery worker,
over an in-memory or SQLite store, and the plain HTTP calls a checkout makes."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from payment_intent import InMemoryStore, ManualClock, SQLiteStore
from payment_intent.dialects import Api
from payment_intent.ports import Store
from payment_intent.webhooks import DeliveryWorker, RetrySchedule, Source, webhook_store_for
from payment_intent.webhooks.storage import WebhookStore
from tests.wire.conftest import SEED_KEY, SEED_TIME, serving

#: Retries in tenths of a second, so a test sees a whole schedule run.
FAST = RetrySchedule(max_attempts=4, first_delay=0.05, factor=2.0, max_delay=1.0, timeout=1.0)


def make_store(kind: str, directory: Path) -> Store:
    return InMemoryStore() if kind == "memory" else SQLiteStore(directory / "provider.sqlite3")


@dataclass
class Provider:
    """The served API, its store, and its webhook store."""

    dialect: str
    url: str
    api: Api
    store: Store
    hooks: WebhookStore
    worker: DeliveryWorker

    @property
    def prefix(self) -> str:
        return "/v1" if self.dialect == "casapay" else ""

    def auth(self, key: str = SEED_KEY) -> dict[str, str]:
        if self.dialect == "casapay":
            return {"Authorization": f"Bearer {key}"}
        return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}

    def call(self, method: str, path: str, **data: Any) -> requests.Response:
        return requests.request(
            method,
            f"{self.url}{self.prefix}{path}",
            data=data or None,
            headers=self.auth(),
            timeout=10,
        )

    def post(self, path: str, **data: Any) -> dict[str, Any]:
        response = self.call("POST", path, **data)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def add_endpoint(
        self, url: str, events: list[str] | None = None, **more: Any
    ) -> dict[str, Any]:
        """An endpoint for ``events`` (default: every one), in the dialect's own parameters."""
        if self.dialect == "casapay":
            wanted = events or ["*"]
            fields = {f"enabled_events[{i}]": name for i, name in enumerate(wanted)}
            return self.post("/webhook_endpoints", url=url, **fields, **more)
        from payment_intent.webhooks.params import payrex_event_types

        wanted = events or list(payrex_event_types())
        fields = {f"events[{i}]": name for i, name in enumerate(wanted)}
        return self.post("/webhooks", url=url, **fields, **more)

    def checkout(self, *, capture_method: str = "automatic") -> dict[str, Any]:
        """Create an intent and pay it with pm_card_visa (PayRex: through the browser helper)."""
        fields = {"amount": "5000", "currency": "eur" if self.dialect == "casapay" else "PHP"}
        if self.dialect == "payrex":
            fields["payment_methods[0]"] = "card"
        if capture_method == "manual":
            key = (
                "capture_method"
                if self.dialect == "casapay"
                else "payment_method_options[card][capture_type]"
            )
            fields[key] = "manual"
        intent = self.post("/payment_intents", **fields)
        if self.dialect == "casapay":
            return self.post(
                f"/payment_intents/{intent['id']}/confirm", payment_method="pm_card_visa"
            )
        return self.post(
            f"/test_helpers/payment_intents/{intent['id']}/attach", payment_method_id="pm_card_visa"
        )

    def create(self, amount: int = 5000) -> dict[str, Any]:
        """A new intent: one ``payment_intent.created`` event, and no processor involved."""
        fields = {"amount": str(amount), "currency": "eur" if self.dialect == "casapay" else "PHP"}
        if self.dialect == "payrex":
            fields["payment_methods[0]"] = "card"
        return self.post("/payment_intents", **fields)

    def events(self) -> list[dict[str, Any]]:
        response = self.call("GET", "/events?limit=100")
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data


@contextmanager
def providing(
    dialect: str,
    store: Store,
    *,
    schedule: RetrySchedule = FAST,
    clock: ManualClock | None = None,
    start_worker: bool = True,
) -> Iterator[Provider]:
    api = Api.over(dialect, [SEED_KEY], store, clock=clock or ManualClock(SEED_TIME))
    hooks = webhook_store_for(store)
    worker = DeliveryWorker([Source(store, hooks, schedule)], poll_interval=0.02)
    with serving(api) as url:
        if start_worker:
            worker.start()
        try:
            yield Provider(dialect, url, api, store, hooks, worker)
        finally:
            worker.stop()


def body_of(response: requests.Response) -> Any:
    return json.loads(response.content)
