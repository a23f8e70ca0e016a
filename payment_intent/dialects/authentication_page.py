"""The page a customer's browser lands on when ``next_action`` redirects it (test mode).

The simulated processor of a served API points its redirect URLs here:
``{origin}{prefix}/test_helpers/redirect/{intent id}/{attempt id}``. ``GET`` shows a page with
two buttons; ``POST succeed=true|false`` completes or fails the authentication and sends the
browser on to the intent's ``return_url`` with ``payment_intent``, ``payment_intent_client_secret``
and ``redirect_status`` in the query, as Stripe does. No API key is needed: like a bank's 3-D
Secure page, the unguessable URL itself is the permission, and it works only while the intent is
waiting for exactly that attempt.
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from payment_intent.domain.currencies import in_major_units
from payment_intent.domain.errors import PaymentIntentError
from payment_intent.domain.model import PaymentIntent
from payment_intent.domain.status import Status
from payment_intent.service import PaymentIntents

ROUTE = "/test_helpers/redirect"
_PATH = re.compile(ROUTE + r"/(?P<id>[A-Za-z0-9_]{1,255})/(?P<attempt>[A-Za-z0-9_]{1,255})")

Page = tuple[int, tuple[tuple[str, str], ...], bytes]


def answer(service: PaymentIntents, method: str, rest: str, body: bytes) -> Page | None:
    """The page for ``rest`` (the path after the dialect's prefix), or ``None`` when it is not the
    page of an attempt waiting right now: then the request goes through the API as usual (and is
    refused there in the dialect's error shape)."""
    found = _PATH.fullmatch(rest)
    if found is None or method not in ("GET", "POST"):
        return None
    intent = _waiting(service, found["id"], found["attempt"])
    if intent is None:
        return None
    if method == "GET":
        return _html(200, "Authenticate this payment", _form(intent))
    try:
        choice = dict(parse_qsl(body.decode("utf-8", "replace"))).get("succeed", "true")
    except ValueError:
        choice = ""
    if choice not in ("true", "false"):
        return _html(400, "Choose an outcome", "Send succeed=true or succeed=false.")
    try:
        after = service.complete_action(intent.id, succeed=choice == "true")
    except PaymentIntentError as error:
        return _html(409, "Could not complete", html.escape(error.message))
    return _back(after, "succeeded" if choice == "true" else "failed")


def _waiting(service: PaymentIntents, intent_id: str, attempt: str) -> PaymentIntent | None:
    try:
        intent = service.retrieve(intent_id)
    except PaymentIntentError:
        return None
    action = intent.next_action
    if (
        intent.status is not Status.REQUIRES_ACTION
        or action is None
        or not urlsplit(action.redirect_url).path.endswith(f"{ROUTE}/{intent_id}/{attempt}")
    ):
        return None
    return intent


def _back(intent: PaymentIntent, status: str) -> Page:
    url = intent.return_url
    if url is None:
        return _html(200, "Done", f"Authentication {status}. You can close this page.")
    parts = urlsplit(url)
    query = [
        *parse_qsl(parts.query, keep_blank_values=True),
        ("payment_intent", intent.id),
        ("payment_intent_client_secret", intent.client_secret),
        ("redirect_status", status),
    ]
    location = urlunsplit(parts._replace(query=urlencode(query)))
    return 303, (("Location", location), ("Content-Type", "text/plain")), b""


def _form(intent: PaymentIntent) -> str:
    amount = html.escape(in_major_units(intent.amount, intent.currency))
    return (
        f"<p>Test mode: authenticate the payment of {amount}.</p>"
        '<form method="post"><button name="succeed" value="true">Complete</button> '
        '<button name="succeed" value="false">Fail</button></form>'
    )


def _html(status: int, title: str, content: str) -> Page:
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"</head><body><h1>{html.escape(title)}</h1>{content}</body></html>"
    )
    return status, (("Content-Type", "text/html; charset=utf-8"),), page.encode("utf-8")
