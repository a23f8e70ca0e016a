"""Hostile input gets a typed error naming what is wrong, and changes nothing, on every store.

Every operation is called with values drawn to break it: wrong types, NUL characters, lone
surrogates (what JavaScript leaves after cutting a string inside an emoji), integers past 64 bits,
strings of many kilobytes, unknown parameter names, ids that are not ids. Whatever the call, it
either succeeds or raises a :class:`PaymentIntentError` with a 4xx status; when it refuses, the
store is exactly as it was. The same values sent over the wire never get a 5xx.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payment_intent import InMemoryStore, ManualClock, PaymentIntents, SQLiteStore
from payment_intent.dialects import Api
from payment_intent.errors import PaymentIntentError
from payment_intent.ports import Store

START = 1_706_140_800

HOSTILE_TEXT = st.sampled_from(
    [
        "\x00",
        "pi_\x00",
        "\ud800",
        "a\udfffb",
        "x" * 10_000,
        "",
        " ",
        "🙂" * 300,
        "0x18",
        "\u0665\u0660\u0660\u0660",
    ]
)
HOSTILE_INT = st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**30, -1, 0])
HOSTILE_VALUE: st.SearchStrategy[Any] = st.one_of(
    HOSTILE_TEXT,
    HOSTILE_INT,
    st.sampled_from([None, True, 1.5, float("nan"), [], {}, ["\ud800"], {"\x00": "v"}]),
    st.dictionaries(HOSTILE_TEXT, HOSTILE_TEXT, max_size=3),
)

#: Each service operation with the parameter names it knows, plus a name nobody knows.
OPERATIONS: dict[str, tuple[bool, tuple[str, ...]]] = {
    "create": (
        False,
        ("amount", "currency", "customer", "payment_method", "metadata", "description",
         "return_url", "statement_descriptor", "payment_method_types", "capture_method"),
    ),
    "retrieve": (True, ("client_secret",)),
    "update": (True, ("amount", "currency", "metadata", "description", "payment_method")),
    "list": (False, ("customer", "status", "created", "limit", "starting_after")),
    "confirm": (True, ("payment_method", "return_url")),
    "capture": (True, ("amount_to_capture",)),
    "cancel": (True, ("cancellation_reason",)),
    "complete_action": (True, ("succeed",)),
    "settle": (True, ("succeed",)),
    "events": (False, ("starting_after", "limit")),
}  # fmt: skip


@st.composite
def hostile_calls(draw: st.DrawFn) -> tuple[str, list[Any], dict[str, Any]]:
    operation = draw(st.sampled_from(sorted(OPERATIONS)))
    names_intent, names = OPERATIONS[operation]
    args: list[Any] = []
    if names_intent:
        args.append(draw(st.one_of(HOSTILE_VALUE, st.just("<known>"))))
    chosen = draw(st.lists(st.sampled_from([*names, "bogus"]), max_size=3, unique=True))
    kwargs = {name: draw(HOSTILE_VALUE) for name in chosen}
    if draw(st.booleans()) and operation not in ("retrieve", "list", "events"):
        kwargs["idempotency_key"] = draw(HOSTILE_VALUE)
    return operation, args, kwargs


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def hostile_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    store: Store
    if request.param == "memory":
        store = InMemoryStore()
    elif request.param == "sqlite":
        store = SQLiteStore(tmp_path / "hostile.sqlite3")
    else:
        from payment_intent.adapters.postgres import PostgresStore

        store = PostgresStore(request.getfixturevalue("postgres_dsn"))
    yield store
    store.close()


def _state(svc: PaymentIntents, known: str) -> tuple[Any, ...]:
    """What a refused request must leave as it was: the known intent and the whole event feed."""
    return svc.retrieve(known), svc.events(limit=1000).data


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(call=hostile_calls())
def test_hostile_calls_get_typed_4xx_errors_and_change_nothing(
    hostile_store: Store, call: tuple[str, list[Any], dict[str, Any]]
) -> None:
    svc = PaymentIntents(hostile_store, ManualClock(START))
    known = svc.create(amount=5000, currency="eur", metadata={"k": "v"}).id
    operation, args, kwargs = call
    args = [known if arg == "<known>" else arg for arg in args]
    before = _state(svc, known)
    try:
        getattr(svc, operation)(*args, **kwargs)
    except PaymentIntentError as refused:
        assert 400 <= refused.http_status < 500, refused
        assert _state(svc, known) == before, "a refused request changed the store"


def _wire_bodies() -> st.SearchStrategy[tuple[str, str, bytes, str]]:
    """(method, path, body, content type) of requests built from the same hostile values."""

    def encode(kwargs: dict[str, Any], as_json: bool) -> tuple[bytes, str]:
        if as_json:
            return (
                json.dumps(kwargs, allow_nan=True).encode("utf-8", "surrogatepass"),
                "application/json",
            )
        flat = [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in kwargs.items()]
        return (
            urlencode(flat, encoding="utf-8", errors="surrogatepass").encode(),
            "application/x-www-form-urlencoded",
        )

    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, str, bytes, str]:
        operation, args, kwargs = draw(hostile_calls())
        target = str(args[0]) if args else ""
        path = {
            "create": "/v1/payment_intents",
            "list": "/v1/payment_intents",
            "events": "/v1/events",
        }.get(operation, f"/v1/payment_intents/{target}/{operation}")
        method = "GET" if operation in ("list", "events", "retrieve") else "POST"
        if operation == "retrieve":
            path = f"/v1/payment_intents/{target}"
        kwargs.pop("idempotency_key", None)
        body, content_type = encode(kwargs, draw(st.booleans()))
        return method, path, body, content_type

    return build()


@settings(max_examples=300, deadline=None)
@given(request=_wire_bodies())
def test_hostile_requests_over_the_wire_never_get_a_5xx(
    request: tuple[str, str, bytes, str],
) -> None:
    api = Api.over("casapay", ["sk_test_hostile_input"], InMemoryStore(), clock=ManualClock(START))
    method, path, body, content_type = request
    query = body.decode("latin-1") if method == "GET" and "json" not in content_type else ""
    response = api.handle(
        method,
        path,
        query,
        {"Authorization": "Bearer sk_test_hostile_input", "Content-Type": content_type},
        b"" if method == "GET" else body,
    )
    assert response.status < 500, (response.status, response.body)
    response.content()  # and the answer can be sent
