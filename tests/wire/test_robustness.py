"""Whatever arrives, the server answers in its dialect: never a 500, never a traceback, and a
refused request leaves the store exactly as it was (compared byte for byte)."""

from __future__ import annotations

import io
import json
from typing import Any
from wsgiref.util import setup_testing_defaults

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from payment_intent import InMemoryStore, ManualClock
from payment_intent.server import make_app
from tests.wire.conftest import SEED_KEY, SEED_TIME, auth_for, make_api

DIALECTS = ("casapay", "payrex")
NAMES = [
    "amount",
    "currency",
    "customer",
    "customer_id",
    "payment_method",
    "payment_method_id",
    "payment_method_types",
    "payment_methods",
    "payment_method_options",
    "description",
    "capture_method",
    "confirmation_method",
    "confirm",
    "return_url",
    "metadata",
    "statement_descriptor",
    "amount_to_capture",
    "cancellation_reason",
    "client_secret",
    "limit",
    "starting_after",
    "ending_before",
    "created",
    "status",
    "succeed",
    "seconds",
    "idempotency_key",
    "expand",
]
VALUES = [
    "",
    "0",
    "-1",
    "1",
    "2000",
    "120000",
    "99999999999999999999999",
    "true",
    "false",
    "eur",
    "PHP",
    "usd",
    "manual",
    "automatic",
    "card",
    "gcash",
    "pm_card_visa",
    "pm_card_threeDSecure2Required",
    "pm_open_banking",
    "pm_unknown",
    "requested_by_customer",
    "automatic",
    "https://shop.test/",
    "null",
    "[]",
    "{}",
    "\x00",
    "é",
    "ü" * 300,
]
ROUTES = [
    "/payment_intents",
    "/payment_intents/ID",
    "/payment_intents/ID/confirm",
    "/payment_intents/ID/capture",
    "/payment_intents/ID/cancel",
    "/events",
    "/test_helpers/payment_intents/ID/attach",
    "/test_helpers/payment_intents/ID/complete_action",
    "/test_helpers/payment_intents/ID/settle",
    "/test_helpers/clock/advance",
]
SEGMENTS = [
    "v1",
    "payment_intents",
    "test_helpers",
    "redirect",
    "att_1",
    "attach",
    "complete_action",
    "settle",
    "clock",
    "advance",
    "confirm",
    "capture",
    "cancel",
    "events",
    "ID",
    "..",
    "%2e%2e",
    "",
    "pi_",
    "é",
]

scalars = st.one_of(
    st.sampled_from(VALUES),
    st.text(max_size=30),
    st.integers(),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=True),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(NAMES), st.text(max_size=10)), inner, max_size=4),
    ),
    max_leaves=12,
)
keys = st.one_of(
    st.sampled_from(NAMES),
    st.builds(lambda n, s: f"{n}[{s}]", st.sampled_from(NAMES), st.text(max_size=8)),
    st.builds(lambda n: f"{n}[]", st.sampled_from(NAMES)),
    st.text(max_size=15),
)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["json", "form", "bytes", "empty"]))
    if kind == "json":
        value = draw(st.dictionaries(st.sampled_from(NAMES), json_values, max_size=5) | json_values)
        return "application/json", json.dumps(value).encode()
    if kind == "form":
        pairs = draw(
            st.lists(st.tuples(keys, st.sampled_from(VALUES) | st.text(max_size=12)), max_size=6)
        )
        from urllib.parse import urlencode

        return "application/x-www-form-urlencoded", urlencode(pairs).encode()
    if kind == "bytes":
        return draw(st.sampled_from(["", "application/json", "text/plain"])), draw(
            st.binary(max_size=80)
        )
    return "", b""


@st.composite
def requests_(draw: st.DrawFn, dialect: str, ids: list[str]) -> dict[str, Any]:
    if draw(st.integers(0, 9)) < 7:  # mostly the real routes, so requests get past the router
        route = draw(st.sampled_from(ROUTES))
        path = "/v1" + route.replace("ID", draw(st.sampled_from(ids)))
        method = (
            "GET" if route in ("/payment_intents", "/payment_intents/ID", "/events") else "POST"
        )
        method = draw(st.sampled_from([method, method, "PUT", "GET"]))
    else:
        segments = draw(st.lists(st.sampled_from(SEGMENTS) | st.text(max_size=10), max_size=6))
        segments = [draw(st.sampled_from(ids)) if s == "ID" else s for s in segments]
        path = "/" + "/".join(segments)
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE"]) | st.text(max_size=6))
    if dialect == "payrex":
        path = path.removeprefix("/v1")
    content_type, body = draw(bodies())
    headers: dict[str, str] = {}
    auth = draw(st.sampled_from(["valid", "valid", "valid", "none", "garbage"]))
    if auth == "valid":
        headers.update(auth_for(dialect))
    elif auth == "garbage":
        headers["Authorization"] = draw(st.text(max_size=40))
    if content_type:
        headers["Content-Type"] = content_type
    headers.update(
        draw(
            st.dictionaries(
                st.sampled_from(
                    ["Idempotency-Key", "Content-Type", "X-Anything", "Stripe-Version"]
                ),
                st.text(max_size=20),
                max_size=2,
            )
        )
    )
    query = draw(
        st.sampled_from(["", "limit=3", "client_secret=x", "created[gte]=1&limit=x"])
        | st.text(max_size=20)
    )
    length = draw(st.sampled_from([len(body), len(body), 0, len(body) + 5, -3]))
    return {
        "method": method,
        "path": path,
        "query": query,
        "headers": headers,
        "body": body,
        "length": length,
    }


def _environ(request: dict[str, Any]) -> dict[str, Any]:
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    environ["REQUEST_METHOD"] = request["method"]
    # What a WSGI server hands over: the raw path bytes decoded as latin-1.
    environ["PATH_INFO"] = request["path"].encode("utf-8", "surrogatepass").decode("latin-1")
    environ["QUERY_STRING"] = request["query"]
    environ["CONTENT_LENGTH"] = str(request["length"])
    environ["wsgi.input"] = io.BytesIO(request["body"])
    for name, value in request["headers"].items():
        if name == "Content-Type":
            environ["CONTENT_TYPE"] = value
        else:
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def _seeded(dialect: str) -> tuple[Any, InMemoryStore, list[str]]:
    store = InMemoryStore()
    api = make_api(dialect, store, ManualClock(SEED_TIME), keys=(SEED_KEY,))
    service = api.services[False]
    currency = "eur" if dialect == "casapay" else "php"
    open_intent = service.create(amount=5000, currency=currency)
    held = service.create(
        amount=5000,
        currency=currency,
        capture_method="manual",
        payment_method="pm_card_visa",
        confirm=True,
    )
    return api, store, [open_intent.id, held.id, "pi_missing"]


def _check(dialect: str, request: dict[str, Any], api: Any, store: InMemoryStore) -> None:
    before = store.snapshot()
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured["status"], captured["headers"] = status, headers

    chunks = make_app(api)(_environ(request), start_response)
    status = int(captured["status"].split()[0])
    event(f"status {status}")
    body = json.loads(b"".join(chunks))
    assert status in {200, 400, 401, 402, 404, 409}, (status, body)
    assert "Traceback" not in json.dumps(body)
    if status == 200:
        return
    if dialect == "casapay":
        assert set(body) == {"error"}
        error = body["error"]
        assert {"type", "message"} <= set(error)
        # As on Stripe, param is there only when a parameter is to blame.
        assert error.get("param", "named") is not None
        assert "code" in error or status == 401
    else:
        assert set(body) == {"errors"}
        assert all(set(e) == {"code", "detail", "parameter"} for e in body["errors"])
    if status != 402:  # a decline is recorded on the intent; every other refusal stores nothing
        assert store.snapshot() == before


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(data=st.data())
def test_casapay_answers_anything_in_its_error_shape_and_stores_nothing_when_refusing(
    data: st.DataObject,
) -> None:
    api, store, ids = _seeded("casapay")
    _check("casapay", data.draw(requests_("casapay", ids)), api, store)


@SETTINGS
@given(data=st.data())
def test_payrex_answers_anything_in_its_error_shape_and_stores_nothing_when_refusing(
    data: st.DataObject,
) -> None:
    api, store, ids = _seeded("payrex")
    _check("payrex", data.draw(requests_("payrex", ids)), api, store)


@settings(max_examples=60, deadline=None)
@given(dialect=st.sampled_from(DIALECTS), name=st.sampled_from(NAMES), value=json_values)
def test_any_json_value_for_any_create_parameter_is_answered_in_the_dialect(
    dialect: str, name: str, value: Any
) -> None:
    api, store, _ = _seeded(dialect)
    amount = {"amount": 5000, "currency": "eur" if dialect == "casapay" else "PHP"}
    request = {
        "method": "POST",
        "path": "/v1/payment_intents" if dialect == "casapay" else "/payment_intents",
        "query": "",
        "headers": {**auth_for(dialect), "Content-Type": "application/json"},
        "body": json.dumps({**amount, name: value}).encode(),
    }
    request["length"] = len(request["body"])
    _check(dialect, request, api, store)
