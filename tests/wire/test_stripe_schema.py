"""Every answer of a broad set of checkouts conforms to Stripe's own schema, in both shapes.

Each flow runs once per API version a caller may send (none, the older shape's, the newer one's,
and the versions the SDKs pin); every response body is validated against Stripe's OpenAPI schema
of that shape, and every PaymentIntent and Charge must carry each property Stripe always sends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from payment_intent import InMemoryStore, ManualClock
from payment_intent.dialects import Api
from tests.wire import stripe_schema
from tests.wire.conftest import SEED_TIME, bearer, make_api
from tests.wire.stripe_schema import NEWER, OLDER, errors_of, validator

#: A ``Stripe-Version`` header → the schema its answers follow.
VERSIONS: dict[str | None, str] = {
    None: OLDER,
    "2020-08-27": OLDER,
    "2022-08-01": OLDER,
    "2022-11-15": NEWER,
    "2026-07-29.dahlia": NEWER,
    "2026-10-28.endive": NEWER,  # what stripe-python 16 sends
    "2026-11-18.endive": NEWER,  # what stripe-node 23 sends
}


@dataclass
class Caller:
    """Sends requests as one API version and keeps every answer to validate."""

    api: Api
    version: str | None
    answers: list[tuple[str, int, Any]] = field(default_factory=list)

    def send(
        self, method: str, path: str, params: dict[str, Any] | None = None, **headers: str
    ) -> tuple[int, Any]:
        sent = {**bearer(), **headers}
        if self.version is not None:
            sent["Stripe-Version"] = self.version
        body = urlencode(_form(params or {})).encode()
        if method == "GET":
            response = self.api.handle(method, path, body.decode(), sent)
        else:
            response = self.api.handle(method, path, "", sent, body)
        self.answers.append((f"{method} {path}", response.status, response.body))
        return response.status, response.body

    def ok(self, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
        status, body = self.send(method, path, params)
        assert status == 200, body
        return body


def _form(params: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Bracket notation, as the SDKs send it."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        if isinstance(value, dict):
            pairs.extend(_form(value, name))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                pairs.extend(_form({str(index): item}, name))
        elif isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        else:
            pairs.append((name, str(value)))
    return pairs


SHIPPING = {
    "name": "Ada Lovelace",
    "address": {"line1": "12 St James's Square", "city": "London", "country": "GB"},
}


def run_checkouts(caller: Caller) -> None:
    """Every operation, the outcomes of SPEC section 7, lists, searches, events and errors."""
    newer = VERSIONS[caller.version] == NEWER
    charge_path = "latest_charge" if newer else "charges.data.payment_intent"
    # Create, read, update, confirm: automatic capture.
    intent = caller.ok(
        "POST",
        "/v1/payment_intents",
        {
            "amount": 120000,
            "currency": "eur",
            "customer": "cus_123456789",
            "payment_method_types": ["card", "open_banking"],
            "description": "Rent payment — February 2025",
            "metadata": {"property_id": "prop_456"},
            "receipt_email": "tenant@example.com",
            "shipping": SHIPPING,
            "statement_descriptor_suffix": "RENT FEB",
            "setup_future_usage": "off_session",
        },
    )
    path = f"/v1/payment_intents/{intent['id']}"
    caller.ok("GET", path, {"expand": ["payment_method"]})
    caller.ok("POST", path, {"metadata": {"period": "2025-02"}, "customer": "cus_987654321"})
    caller.ok("POST", path, {"metadata": "", "shipping": "", "receipt_email": ""})
    paid = caller.ok(
        "POST",
        f"{path}/confirm",
        {"payment_method": "pm_card_visa", "expand": ["payment_method", charge_path]},
    )
    assert paid["status"] == "succeeded"

    # Manual capture, partial, with metadata on the capture.
    held = caller.ok(
        "POST",
        "/v1/payment_intents",
        {
            "amount": 5000,
            "currency": "eur",
            "capture_method": "manual",
            "payment_method": "pm_card_mastercard",
            "confirm": True,
        },
    )
    assert held["status"] == "requires_capture"
    caller.ok(
        "POST",
        f"/v1/payment_intents/{held['id']}/capture",
        {"amount_to_capture": 4000, "metadata": {"captured_by": "test"}, "expand": [charge_path]},
    )

    # Cancels: before payment, and a hold released.
    fresh = caller.ok("POST", "/v1/payment_intents", {"amount": 4200, "currency": "usd"})
    caller.ok(
        "POST",
        f"/v1/payment_intents/{fresh['id']}/cancel",
        {"cancellation_reason": "requested_by_customer"},
    )
    hold = caller.ok(
        "POST",
        "/v1/payment_intents",
        {
            "amount": 3000,
            "currency": "eur",
            "capture_method": "manual",
            "payment_method_data": {"type": "card", "card": {"token": "tok_visa"}},
            "confirm": True,
        },
    )
    caller.ok("POST", f"/v1/payment_intents/{hold['id']}/cancel")

    # A decline (402 with the intent, its failed charge and method), then another card.
    declined = caller.ok("POST", "/v1/payment_intents", {"amount": 5000, "currency": "eur"})
    status, _ = caller.send(
        "POST",
        f"/v1/payment_intents/{declined['id']}/confirm",
        {"payment_method": "pm_card_visa_chargeDeclinedInsufficientFunds"},
    )
    assert status == 402
    caller.ok(
        "GET",
        f"/v1/payment_intents/{declined['id']}",
        {"expand": ["last_payment_error.payment_method"]},
    )
    caller.ok(
        "POST", f"/v1/payment_intents/{declined['id']}/confirm", {"payment_method": "pm_card_visa"}
    )

    # 3-D Secure: failed, then completed.
    secure = caller.ok(
        "POST",
        "/v1/payment_intents",
        {
            "amount": 2500,
            "currency": "gbp",
            "payment_method": "pm_card_threeDSecure2Required",
            "return_url": "https://shop.test/complete",
            "confirm": True,
        },
    )
    assert secure["status"] == "requires_action"
    helper = f"/v1/test_helpers/payment_intents/{secure['id']}"
    failed = caller.ok("POST", f"{helper}/complete_action", {"succeed": False})
    assert failed["last_payment_error"]["payment_method"]["type"] == "card"
    caller.ok(
        "POST",
        f"/v1/payment_intents/{secure['id']}/confirm",
        {"payment_method": "pm_card_threeDSecure2Required"},
    )
    caller.ok("POST", f"{helper}/complete_action", {"succeed": True})
    # Declined instead of redirected, when asked to.
    status, _ = caller.send(
        "POST",
        "/v1/payment_intents",
        {
            "amount": 2500,
            "currency": "gbp",
            "payment_method": "pm_card_authenticationRequired",
            "confirm": True,
            "off_session": True,
        },
    )
    assert status == 402

    # An asynchronous method: processing, then settled either way.
    for succeed in (True, False):
        bank = caller.ok(
            "POST",
            "/v1/payment_intents",
            {
                "amount": 9000,
                "currency": "eur",
                "payment_method_types": ["open_banking"],
                "payment_method": "pm_open_banking",
                "confirm": True,
            },
        )
        assert bank["status"] == "processing"
        caller.ok(
            "POST", f"/v1/test_helpers/payment_intents/{bank['id']}/settle", {"succeed": succeed}
        )

    # Lists, search, events, payment methods.
    caller.ok("GET", "/v1/payment_intents", {"limit": 3, "expand": ["data.payment_method"]})
    caller.ok("GET", "/v1/payment_intents", {"customer": "cus_987654321"})
    caller.ok(
        "GET",
        "/v1/payment_intents/search",
        {"query": 'status:"succeeded" AND amount>1000', "limit": 2},
    )
    events = caller.ok("GET", "/v1/events", {"types": ["payment_intent.succeeded"], "limit": 5})
    caller.ok("GET", f"/v1/events/{events['data'][0]['id']}")
    caller.ok("GET", "/v1/events_feed", {"limit": 3})
    caller.ok("GET", "/v1/payment_methods/pm_card_visa")
    caller.ok("GET", "/v1/payment_methods/pm_open_banking")

    # Refusals, each in Stripe's error shape.
    for method, where, params in (
        ("POST", "/v1/payment_intents", {"amount": 1000, "currency": "eur", "colour": "red"}),
        ("POST", "/v1/payment_intents", {"currency": "eur"}),
        ("GET", "/v1/payment_intents/pi_doesNotExist", None),
        ("POST", f"/v1/payment_intents/{fresh['id']}/capture", None),
        ("GET", path, {"expand": ["amount"]}),
        ("GET", "/v1/payment_intents/search", {"query": "status:"}),
        ("POST", "/v1/payment_intents", {"amount": 1000, "currency": "eur", "on_behalf_of": "a"}),
        ("GET", "/v1/payment_methods/pm_unknown", None),
    ):
        status, _ = caller.send(method, where, params)
        assert status in (400, 404), (where, params)
    status, _ = caller.send("GET", "/v1/payment_intents", Authorization="Bearer sk_test_wrongkey99")
    assert status == 401


def _intent_errors(body: dict[str, Any], schema: str) -> list[str]:
    problems = errors_of(validator(schema, "payment_intent"), body)
    missing = stripe_schema.always_present(schema, "payment_intent") - set(body)
    problems += [f"{body.get('id')}: missing {name}" for name in sorted(missing)]
    charges = body["charges"]["data"] if isinstance(body.get("charges"), dict) else []
    if isinstance(body.get("latest_charge"), dict):
        charges = [body["latest_charge"]]
    for charge in charges:
        # The newer copy keeps the Charge only as a stub; its properties are those of 2020-08-27.
        problems += errors_of(validator(OLDER, "charge"), charge)
        absent = stripe_schema.always_present(schema, "charge") - set(charge)
        problems += [f"{charge['id']}: missing {name}" for name in sorted(absent)]
    return problems


def problems_of(body: Any, schema: str) -> list[str]:
    """How one response body breaks the schema of its shape."""
    if "error" in body:
        found = errors_of(validator(schema, "error"), body)
        if "payment_intent" in body["error"]:
            found += _intent_errors(body["error"]["payment_intent"], schema)
        return found
    kind = body.get("object")
    if kind == "payment_intent":
        return _intent_errors(body, schema)
    if kind == "payment_method":
        return errors_of(validator(schema, "payment_method"), body)
    if kind == "list" and body["url"] == "/v1/payment_intents":
        found = errors_of(stripe_schema.list_validator(schema), body)
        return found + [p for item in body["data"] for p in _intent_errors(item, schema)]
    if kind == "search_result":
        found = [] if body["url"] == "/v1/payment_intents/search" else ["search url"]
        return found + [p for item in body["data"] for p in _intent_errors(item, schema)]
    events = body["data"] if kind == "list" else [body]
    found = []
    for event in events:
        assert event["object"] == "event", event
        found += _intent_errors(event["data"]["object"], schema)
    return found


@pytest.mark.parametrize("stripe_version", list(VERSIONS))
def test_every_answer_of_every_flow_conforms_to_stripes_schema(stripe_version: str | None) -> None:
    caller = Caller(make_api("casapay", InMemoryStore(), ManualClock(SEED_TIME)), stripe_version)
    run_checkouts(caller)
    schema = VERSIONS[stripe_version]
    report = {
        f"{request} → {status}": found
        for request, status, body in caller.answers
        if (found := problems_of(body, schema))
    }
    assert not report, json.dumps(report, indent=1, ensure_ascii=False)[:6000]
    assert len(caller.answers) > 40


@pytest.mark.parametrize(
    ("stripe_version", "present", "absent"),
    [
        (None, "charges", "amount_details"),
        ("2026-10-28.endive", "latest_charge", "charges"),
    ],
)
def test_each_shape_has_its_own_charges_property(
    stripe_version: str | None, present: str, absent: str
) -> None:
    caller = Caller(make_api("casapay", InMemoryStore(), ManualClock(SEED_TIME)), stripe_version)
    body = caller.ok("POST", "/v1/payment_intents", {"amount": 1000, "currency": "eur"})
    assert present in body
    assert absent not in body


def test_the_schema_copy_is_the_shared_reference_when_that_is_at_hand() -> None:
    name = stripe_schema.SCHEMA_FILE.name
    shared = Path(__file__).resolve().parents[3] / "shared" / "reference" / name
    if not shared.exists():
        pytest.skip("the shared reference folder is not beside this clone")
    assert json.loads(shared.read_text()) == stripe_schema.reference()


def test_the_validators_refuse_what_stripe_would_not_send() -> None:
    # The tests above mean something only if a wrong body fails them.
    caller = Caller(make_api("casapay", InMemoryStore(), ManualClock(SEED_TIME)), None)
    body = caller.ok("POST", "/v1/payment_intents", {"amount": 1000, "currency": "eur"})
    assert problems_of(body, OLDER) == []
    broken = {**body, "status": "paid", "amount": "1000"}
    del broken["shipping"]
    found = problems_of(broken, OLDER)
    assert any(p.startswith("status") for p in found)
    assert any(p.startswith("amount") for p in found)
    assert any(p.endswith("missing shipping") for p in found)
