"""Stripe's ``expand[]``: ask for the object behind an id in the same response.

A path names fields from the response's top object down (``latest_charge``,
``last_payment_error.payment_method``, on a list ``data.payment_method``), at most four levels, as
Stripe allows. Paths are checked against the shapes before the request runs, so a path that cannot
be expanded is a 400 and nothing is stored; then each id on a path is replaced by its object.

Only what this stand-in models can be expanded to an object: a PaymentIntent, its charges and its
payment method. Fields that are always ``null`` here (``invoice``, ``review``,
``balance_transaction``…) can be named and stay ``null``, as they would on Stripe for an intent
without them. ``customer`` is refused by name: it holds an id, but there is no Customer object.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from payment_intent.domain.errors import InvalidRequestError

#: The deepest expansion Stripe serves.
MAX_DEPTH = 4
#: The most paths one request may name.
MAX_PATHS = 50

_SEGMENT = re.compile(r"[a-z][a-z0-9_]{0,99}")

#: Ids of objects that are never set here, so their expansion is always ``null``.
_ALWAYS_NULL = "always_null"
#: Objects without expandable fields of their own (``shipping``, ``outcome``…).
_PLAIN = "plain"
#: Ids of objects this stand-in does not model.
_NOT_MODELLED = "not_modelled"

_PLAIN_FIELDS = ("next_action", "payment_method_options", "processing", "shipping")

#: For each shape, the fields a path may name and the shape they lead to (Stripe's
#: ``x-expandableFields``, restricted to what the object carries here).
GRAPH: dict[str, dict[str, str]] = {
    "payment_intent": {
        "payment_method": "payment_method",
        "latest_charge": "charge",
        "charges": "charge_list",
        "last_payment_error": "api_errors",
        "customer": _NOT_MODELLED,
        "application": _ALWAYS_NULL,
        "invoice": _ALWAYS_NULL,
        "on_behalf_of": _ALWAYS_NULL,
        "review": _ALWAYS_NULL,
        "automatic_payment_methods": _PLAIN,
        "transfer_data": _PLAIN,
        **dict.fromkeys(_PLAIN_FIELDS, _PLAIN),
    },
    "charge_list": {"data": "charge"},
    "charge": {
        "payment_intent": "payment_intent",
        "customer": _NOT_MODELLED,
        **dict.fromkeys(
            (
                "application",
                "application_fee",
                "balance_transaction",
                "failure_balance_transaction",
                "invoice",
                "on_behalf_of",
                "order",
                "review",
                "source_transfer",
                "transfer",
            ),
            _ALWAYS_NULL,
        ),
        **dict.fromkeys(
            (
                "billing_details",
                "fraud_details",
                "outcome",
                "payment_method_details",
                "refunds",
                "shipping",
                "transfer_data",
            ),
            _PLAIN,
        ),
    },
    "api_errors": {
        "payment_method": "payment_method",
        "payment_intent": "payment_intent",
        "setup_intent": _ALWAYS_NULL,
        "source": _ALWAYS_NULL,
    },
    "payment_method": {"customer": _NOT_MODELLED, "billing_details": _PLAIN, "card": _PLAIN},
    "refund": {
        "charge": "charge",
        "payment_intent": "payment_intent",
        **dict.fromkeys(
            (
                "balance_transaction",
                "failure_balance_transaction",
                "source_transfer_reversal",
                "transfer_reversal",
            ),
            _ALWAYS_NULL,
        ),
        "destination_details": _PLAIN,
    },
    "refund_list": {"data": "refund"},
    "intent_list": {"data": "payment_intent"},
    "event_list": {"data": "event"},
    "event": {},
    "clock": {},
    _PLAIN: {},
    _ALWAYS_NULL: {},
}

#: Shapes that are objects with an id of their own: a path's id there is replaced by the object.
OBJECTS = frozenset({"payment_intent", "charge", "payment_method"})

#: Builds the object of ``shape`` behind ``object_id``; ``owner`` is the object holding the id.
Resolve = Callable[[str, str, Mapping[str, Any]], dict[str, Any]]


def parse(value: Any) -> tuple[str, ...]:
    """The ``expand`` parameter as a tuple of paths, or a 400 naming what is wrong."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _invalid("expand must be a list of field paths, such as expand[]=latest_charge.")
    if len(value) > MAX_PATHS:
        raise _invalid(f"You cannot expand more than {MAX_PATHS} fields in one request.")
    for path in value:
        segments = path.split(".")
        if len(segments) > MAX_DEPTH:
            raise _invalid(
                f"You cannot expand more than {MAX_DEPTH} levels of a property ({_shown(path)})."
            )
        if not all(_SEGMENT.fullmatch(segment) for segment in segments):
            raise _invalid(
                f"Invalid expand path: {_shown(path)}. A path is field names joined by dots, "
                "such as last_payment_error.payment_method."
            )
    return tuple(dict.fromkeys(value))


def check(paths: tuple[str, ...], root: str, graph: Mapping[str, Mapping[str, str]]) -> None:
    """Refuse a path that names a field its object cannot expand (before anything runs)."""
    for path in paths:
        shape = root
        for segment in path.split("."):
            target = graph.get(shape, {}).get(segment)
            if target is None:
                raise _invalid(f"This property cannot be expanded ({path}).")
            if target == _NOT_MODELLED:
                raise _invalid(
                    f"This property cannot be expanded ({path}): this stand-in does not model "
                    f"{segment} objects, so it keeps {segment} as an id."
                )
            shape = target


def apply(
    body: dict[str, Any],
    paths: tuple[str, ...],
    root: str,
    graph: Mapping[str, Mapping[str, str]],
    resolve: Resolve,
) -> dict[str, Any]:
    """``body`` with every id on ``paths`` replaced by its object (``body`` is changed in place;
    the renderers build a fresh tree for every response)."""
    for path in paths:
        _expand(body, path.split("."), root, graph, resolve)
    return body


def _expand(
    node: dict[str, Any],
    segments: list[str],
    shape: str,
    graph: Mapping[str, Mapping[str, str]],
    resolve: Resolve,
) -> None:
    head, rest = segments[0], segments[1:]
    target = graph[shape][head]
    value = node.get(head)
    if isinstance(value, str) and target in OBJECTS:
        value = node[head] = resolve(target, value, node)
    items = value if isinstance(value, list) else [value]
    if rest:
        for item in items:
            if isinstance(item, dict):
                _expand(item, rest, target, graph, resolve)


def _invalid(message: str) -> InvalidRequestError:
    return InvalidRequestError(message, code="parameter_invalid", param="expand")


def _shown(path: str) -> str:
    return path if len(path) <= 120 else path[:120] + "…"
