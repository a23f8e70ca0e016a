"""``payment-intent trigger EVENT``: the API calls that make an event happen, against a running
server (as ``stripe trigger`` does against Stripe's test mode).

Each event type has a short script of requests in the dialect's own words; the server then emits
the event (with those that lead to it) and delivers it to its endpoints like any other.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import urlencode

from payment_intent.dialects.payrex import EVENT_TYPES as PAYREX_NAMES
from payment_intent.webhooks.model import EVENT_TYPES

_RETURN_URL = "https://example.com/return"


@dataclass(frozen=True, slots=True)
class Step:
    """One request: ``path`` after the dialect's prefix. In the path and the fields, ``{id}``
    stands for the intent made first, ``{refund}`` for the refund made, ``{payment}`` for the
    intent's latest payment (PayRex's Payment)."""

    method: str
    path: str
    fields: dict[str, str]
    expected: tuple[int, ...] = (200,)


class TriggerError(Exception):
    """The event cannot be triggered: an unknown name, or a server that cannot be reached."""


def _casapay(event: str) -> list[Step]:
    made = {"amount": "5000", "currency": "eur"}
    pay = {**made, "confirm": "true"}
    scripts = {
        "payment_intent.created": [Step("POST", "/payment_intents", made)],
        "payment_intent.requires_action": [Step("POST", "/payment_intents", {
            **pay, "payment_method": "pm_card_threeDSecure2Required", "return_url": _RETURN_URL,
        })],
        "payment_intent.processing": [Step("POST", "/payment_intents", {
            **pay, "payment_method_types[0]": "open_banking", "payment_method": "pm_open_banking",
        })],
        "payment_intent.amount_capturable_updated": [Step("POST", "/payment_intents", {
            **pay, "capture_method": "manual", "payment_method": "pm_card_visa",
        })],
        "payment_intent.succeeded": [
            Step("POST", "/payment_intents", {**pay, "payment_method": "pm_card_visa"})
        ],
        # The decline is the event: the server answers the confirm with a 402 card error.
        "payment_intent.payment_failed": [Step("POST", "/payment_intents", {
            **pay, "payment_method": "pm_card_visa_chargeDeclined",
        }, (402,))],
        "payment_intent.canceled": [
            Step("POST", "/payment_intents", made),
            Step("POST", "/payment_intents/{id}/cancel",
                 {"cancellation_reason": "requested_by_customer"}),
        ],
    }  # fmt: skip
    paid = Step("POST", "/payment_intents", {**pay, "payment_method": "pm_card_visa"})
    refund = Step("POST", "/refunds", {"payment_intent": "{id}", "amount": "1000"})
    scripts["charge.refunded"] = scripts["refund.created"] = [paid, refund]
    scripts["refund.updated"] = [
        paid,
        refund,
        Step("POST", "/refunds/{refund}", {"metadata[reason]": "trigger"}),
    ]
    scripts["refund.failed"] = [
        Step("POST", "/payment_intents", {**pay, "payment_method": "pm_card_refundFail"}),
        refund,
    ]
    return scripts[event]


def _payrex(event: str) -> list[Step]:
    made = {"amount": "10000", "currency": "PHP", "payment_methods[0]": "card"}
    attach = "/test_helpers/payment_intents/{id}/attach"

    def paid_with(method: str, **more: str) -> list[Step]:
        fields = {"payment_method_id": method, "return_url": _RETURN_URL}
        return [Step("POST", "/payment_intents", {**made, **more}), Step("POST", attach, fields)]

    scripts = {
        "payment_intent.created": [Step("POST", "/payment_intents", made)],
        "payment_intent.requires_action": paid_with("pm_card_threeDSecure2Required"),
        "payment_intent.amount_capturable_updated": paid_with(
            "pm_card_visa", **{"payment_method_options[card][capture_type]": "manual"}
        ),
        "payment_intent.succeeded": paid_with("pm_card_visa"),
        "payment_intent.payment_failed": paid_with("pm_card_visa_chargeDeclined"),
        "payment_intent.canceled": [
            Step("POST", "/payment_intents", made),
            Step("POST", "/payment_intents/{id}/cancel", {}),
        ],
    }
    refund = Step("POST", "/refunds", {
        "payment_id": "{payment}", "amount": "5000", "currency": "PHP",
        "reason": "requested_by_customer",
    })  # fmt: skip
    scripts["charge.refunded"] = scripts["refund.created"] = [*paid_with("pm_card_visa"), refund]
    scripts["refund.updated"] = [
        *paid_with("pm_card_visa"), refund, Step("PUT", "/refunds/{refund}", {
            "metadata[reason]": "trigger"
        }),
    ]  # fmt: skip
    scripts["refund.failed"] = [*paid_with("pm_card_refundFail"), refund]
    if event not in scripts:
        raise TriggerError(
            f"{event} cannot happen in PayRex: none of its payment methods stays processing."
        )
    return scripts[event]


def event_names(dialect: str) -> list[str]:
    """The names ``trigger`` accepts for ``dialect`` (PayRex's own names, and the canonical)."""
    names = list(EVENT_TYPES)
    if dialect == "payrex":
        names += [PAYREX_NAMES[n] for n in EVENT_TYPES if n in PAYREX_NAMES]
    return names


def script(event: str, dialect: str) -> list[Step]:
    """The requests that make ``event`` happen in ``dialect``."""
    canonical = {wire: name for name, wire in PAYREX_NAMES.items()}.get(event, event)
    if canonical not in EVENT_TYPES:
        raise TriggerError(
            f"Unknown event type {event!r}; expected one of {', '.join(EVENT_TYPES)}."
        )
    return _payrex(canonical) if dialect == "payrex" else _casapay(canonical)


def trigger(event: str, *, url: str, key: str, dialect: str, out: TextIO) -> int:
    """Run ``event``'s script against the server at ``url``; 0 when every step answered as
    expected, 1 when the server refused one (its error is printed). Raises
    :class:`TriggerError` when the server cannot be reached."""
    steps = script(event, dialect)
    prefix = "/v1" if dialect == "casapay" else ""
    if dialect == "casapay":
        authorization = f"Bearer {key}"
    else:
        authorization = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    made: dict[str, str] = {}  # "{id}", "{refund}", "{payment}" -> the id the server gave
    for step in steps:
        path = prefix + _filled(step.path, made)
        fields = {name: _filled(value, made) for name, value in step.fields.items()}
        status, body = _request(url.rstrip("/") + path, step.method, fields, authorization)
        answered = body if "id" in body else _intent_of_error(body)
        shown, state = answered.get("id") or "", answered.get("status") or ""
        out.write(f"{step.method} {path} -> {status} {shown} {state}".rstrip() + "\n")
        if status not in step.expected:
            out.write(json.dumps(body, indent=2) + "\n")
            return 1
        made.update({k: v for k, v in _ids_in(answered).items() if k not in made})
    out.write(f"Triggered {event}.\n")
    return 0


def _ids_in(answered: dict[str, Any]) -> dict[str, str]:
    """The ids a step's answer gives later steps: the intent's, a refund's, its payment's."""
    kind = answered.get("object") or answered.get("resource")
    ids: dict[str, str] = {}
    if kind in ("payment_intent", "refund") and answered.get("id"):
        ids["{id}" if kind == "payment_intent" else "{refund}"] = str(answered["id"])
    payment = answered.get("latest_payment")
    if isinstance(payment, dict) and payment.get("id"):
        ids["{payment}"] = str(payment["id"])
    return ids


def _filled(text: str, made: dict[str, str]) -> str:
    for placeholder, value in made.items():
        text = text.replace(placeholder, value)
    return text


def _intent_of_error(body: dict[str, Any]) -> dict[str, Any]:
    """The intent a CasaPay error carries (a decline's), else nothing."""
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("payment_intent"), dict):
        intent: dict[str, Any] = error["payment_intent"]
        return intent
    return {}


def _request(
    url: str, method: str, fields: dict[str, str], authorization: str
) -> tuple[int, dict[str, Any]]:
    data = urlencode(fields).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", authorization)
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as refused:
        try:
            body = json.loads(refused.read() or b"{}")
        except ValueError:
            body = {}
        return refused.code, body
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise TriggerError(f"Cannot reach the server at {url}: {reason}.") from None
