"""``payment-intent demo``: a scripted checkout through every transition, as CLI commands.

Each step is printed as the command that repeats it by hand (``payment-intent capture pi_… amount=…
--at …``) followed by the transition it made, so the demo doubles as a tutorial for the command
line. The script checks itself: a step that does not end in its expected status fails the demo.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from payment_intent.adapters.clocks import ManualClock
from payment_intent.adapters.memory import InMemoryStore
from payment_intent.dialects.api import Api, WireResponse

#: The demo's clock starts where the seed documents' example intent was created.
DEMO_START = 1_706_140_800
WEEK = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Step:
    """One command: ``params`` as typed on a shell; ``name`` labels the intent it creates,
    ``intent`` the one it acts on; ``later`` moves the clock first; ``expect`` is the status it
    leaves the intent in (the dialect's word), or the number of holds an ``expire`` cancels."""

    command: str
    params: str = ""
    name: str = ""
    intent: str = ""
    expect: str = ""
    note: str = ""
    later: int = 0


_CASAPAY = [
    Step("create", "amount=120000 currency=eur customer=cus_123456789 capture_method=manual "
         "'description=Rent payment — February 2025' 'metadata[period]=2025-02'",
         name="rent", expect="requires_payment_method", note="manual capture"),
    Step("update", "payment_method=pm_card_threeDSecure2Required", intent="rent",
         expect="requires_confirmation"),
    Step("confirm", "return_url=https://example.com/done", intent="rent",
         expect="requires_action", note="3-D Secure redirect"),
    Step("complete-action", intent="rent", expect="requires_capture",
         note="the customer authenticates; the funds are held"),
    Step("capture", "amount_to_capture=100000", intent="rent", expect="succeeded",
         note="capture 1,000.00 of 1,200.00; the rest is released"),
    Step("create", "amount=5000 currency=eur payment_method=pm_card_visa_chargeDeclined "
         "confirm=true", name="declined", expect="requires_payment_method", note="card declined"),
    Step("confirm", "payment_method=pm_card_visa", intent="declined", expect="succeeded",
         note="another card"),
    Step("create", "amount=7500 currency=eur 'payment_method_types[]=open_banking'",
         name="bank", expect="requires_payment_method"),
    Step("confirm", "payment_method=pm_open_banking", intent="bank", expect="processing"),
    Step("settle", "succeed=false", intent="bank", expect="requires_payment_method",
         note="the bank refuses"),
    Step("confirm", "payment_method=pm_open_banking", intent="bank", expect="processing"),
    Step("settle", intent="bank", expect="succeeded"),
    Step("create", "amount=2500 currency=gbp confirmation_method=manual "
         "payment_method=pm_card_authenticationRequired confirm=true "
         "return_url=https://example.com/done",
         name="server", expect="requires_action", note="manual confirmation"),
    Step("complete-action", "succeed=false", intent="server", expect="requires_payment_method",
         note="authentication fails"),
    Step("confirm", "payment_method=pm_card_authenticationRequired", intent="server",
         expect="requires_action"),
    Step("complete-action", intent="server", expect="requires_confirmation",
         note="back to the server to confirm"),
    Step("confirm", intent="server", expect="succeeded"),
    Step("create", "amount=2000 currency=eur", name="abandoned", expect="requires_payment_method"),
    Step("cancel", "cancellation_reason=abandoned", intent="abandoned", expect="canceled"),
    Step("create", "amount=3000 currency=eur capture_method=manual payment_method=pm_card_visa "
         "confirm=true", name="hold", expect="requires_capture"),
    Step("expire", later=WEEK, expect="1", note="seven days later the hold lapses"),
    Step("retrieve", intent="hold", expect="canceled", note="cancellation_reason: automatic"),
]  # fmt: skip

_MANUAL = "'payment_method_options[card][capture_type]=manual'"
_PAYREX = [
    Step("create", "amount=120000 currency=PHP 'payment_methods[]=card' "
         f"'payment_methods[]=gcash' 'description=Rent February' {_MANUAL}",
         name="rent", expect="awaiting_payment_method", note="hold then capture"),
    Step("attach", "payment_method_id=pm_card_threeDSecure2Required "
         "return_url=https://example.com/done",
         intent="rent", expect="awaiting_next_action", note="3-D Secure redirect"),
    Step("complete-action", intent="rent", expect="awaiting_capture",
         note="the customer authenticates; the funds are held"),
    Step("capture", "amount=100000", intent="rent", expect="succeeded",
         note="capture 1,000.00 of 1,200.00; the rest is released"),
    Step("create", "amount=5000 currency=PHP 'payment_methods[]=gcash'", name="wallet",
         expect="awaiting_payment_method"),
    Step("attach", "payment_method_id=pm_gcash", intent="wallet", expect="awaiting_next_action",
         note="wallet redirect"),
    Step("complete-action", "succeed=false", intent="wallet", expect="awaiting_payment_method",
         note="the customer abandons the wallet page"),
    Step("cancel", intent="wallet", expect="canceled"),
    Step("create", "amount=4000 currency=PHP", name="card", expect="awaiting_payment_method"),
    Step("attach", "payment_method_id=pm_card_visa_chargeDeclined", intent="card",
         expect="awaiting_payment_method", note="declined: see last_payment_error"),
    Step("attach", "payment_method_id=pm_card_visa", intent="card", expect="succeeded",
         note="another card, captured at once"),
    Step("create", f"amount=3000 currency=PHP {_MANUAL}", name="hold",
         expect="awaiting_payment_method"),
    Step("attach", "payment_method_id=pm_card_visa", intent="hold", expect="awaiting_capture"),
    Step("expire", later=WEEK, expect="1", note="seven days later the hold lapses"),
    Step("retrieve", intent="hold", expect="canceled", note="cancellation_reason: automatic"),
]  # fmt: skip


def demo_script(dialect: str) -> list[Step]:
    """The steps of the demo in ``dialect``'s words."""
    return _PAYREX if dialect == "payrex" else _CASAPAY


def run(dialect: str, out: TextIO, call: Callable[[Api, str, str, list[str]], WireResponse]) -> int:
    """Run the script over a throw-away store; 0 when every step ended as expected."""
    clock = ManualClock(DEMO_START)
    api = Api.over(dialect, None, InMemoryStore(), clock=clock)
    ids: dict[str, str] = {}
    statuses: dict[str, str] = {}
    failures = 0
    out.write(f"A checkout in {dialect} terms; each step is the command that repeats it by hand\n")
    out.write("(by hand, intents are kept in ./payment_intents.sqlite3, or --db FILE).\n")
    for step in demo_script(dialect):
        clock.advance(step.later)
        intent_id = ids[step.intent] if step.intent else ""
        params = shlex.split(step.params)
        response = call(api, step.command, intent_id, params)
        words = ["$ payment-intent", step.command, intent_id, step.params, f"--at {clock.now()}"]
        out.write("\n" + " ".join(w for w in words if w) + "\n")
        intent = _intent_in(response, dialect)
        if step.command == "expire":
            expired = [i["id"] for i in response.body.get("data", [])]
            out.write(f"  {len(expired)} hold(s) expired: {', '.join(expired) or 'none'}\n")
            outcome = str(len(expired))
        elif intent is None:
            out.write(f"  refused: {_error_code(response, dialect)}\n")
            outcome = ""
        else:
            if step.name:
                ids[step.name] = intent["id"]
            key = step.name or step.intent
            before, statuses[key] = statuses.get(key, "(none)"), intent["status"]
            error = _error_code(response, dialect)
            out.write(f"  {intent['id']}: {before} → {intent['status']}")
            out.write(f"  [{error}]\n" if error else "\n")
            outcome = intent["status"]
            action = intent.get("next_action")
            if action:
                url = action.get("redirect_url") or action["redirect_to_url"]["url"]
                out.write(f"  next_action: redirect the customer to {url}\n")
        if step.note:
            out.write(f"  ({step.note})\n")
        if outcome != step.expect:
            failures += 1
            out.write(f"  !! expected {step.expect}, got {outcome or 'an error'}\n")
    return 1 if failures else 0


def _intent_in(response: WireResponse, dialect: str) -> dict[str, Any] | None:
    body = response.body
    if response.status == 200:
        return body if "id" in body else None
    if dialect == "casapay":
        intent: dict[str, Any] | None = body["error"].get("payment_intent")
        return intent
    return None


def _error_code(response: WireResponse, dialect: str) -> str:
    if response.status == 200:
        return ""
    if dialect == "casapay":
        return f"{response.body['error']['type']}: {response.body['error']['code']}"
    return str(response.body["errors"][0]["code"])
