"""``payment_intent.wsgi:application`` under gunicorn: configured from the environment, several
worker processes share one store and its deliveries."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from payment_intent.wsgi import create_app
from tests.webhooks.processes import free_port
from tests.webhooks.receiver import receiving

KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
HEADERS = {"Authorization": f"Bearer {KEY}"}


def test_the_application_refuses_a_store_its_workers_cannot_share() -> None:
    with pytest.raises(ValueError, match="memory://"):
        create_app({"PAYMENT_INTENT_STORE": "memory://"})


def test_the_application_refuses_an_unknown_webhooks_switch(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/x.sqlite3"
    with pytest.raises(ValueError, match="on or off"):
        create_app({"PAYMENT_INTENT_STORE": store, "PAYMENT_INTENT_WEBHOOKS": "maybe"})


def test_importing_the_module_opens_no_store(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-c", "import payment_intent.wsgi"], cwd=tmp_path, check=True, timeout=60
    )
    assert list(tmp_path.iterdir()) == []


def test_gunicorn_workers_share_one_store_and_deliver_each_event_once(tmp_path: Path) -> None:
    pytest.importorskip("gunicorn")
    port = free_port()
    env = {
        **os.environ,
        "PAYMENT_INTENT_STORE": f"sqlite:///{tmp_path}/provider.sqlite3",
        "PAYMENT_INTENT_API_KEYS": KEY,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", "payment_intent.wsgi:application"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(f"{url}/events", headers=HEADERS, timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        with receiving() as receiver:
            requests.post(f"{url}/webhook_endpoints", headers=HEADERS, timeout=10,
                          data={"url": receiver.url, "enabled_events[0]": "*"})  # fmt: skip
            made = {
                requests.post(f"{url}/payment_intents", headers=HEADERS, timeout=10,
                              data={"amount": str(100 + n), "currency": "eur"}).json()["id"]
                for n in range(20)
            }  # fmt: skip
            receiver.wait_for(20, timeout=30)
            time.sleep(1.0)  # time for a duplicate, were there to be one
            delivered = [e["data"]["object"]["id"] for e in receiver.events()]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(15)
    assert sorted(delivered) == sorted(made)
