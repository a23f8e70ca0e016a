"""``payment-intent demo``: a scripted checkout through every transition, as CLI commands.

Each step is printed as the command that repeats it by hand (``payment-intent capture pi_… amount=…
--at …``) followed by the transition it made, so the demo doubles as a tutorial for the command
line. The demo runs each step from the very words it prints, through the command line's own
parser, and those words name ``--dialect`` and ``--db`` whenever they are not the defaults, so a
printed line pasted into a shell does what the demo did; only the ids differ, since by hand each
``create`` makes an intent of its own. The script checks itself: a step that does not end in its
expected status fails the demo.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from payment_intent.adapters.clocks import ManualClock
from payment_intent.adapters.memory import InMemoryStore
from payment_intent.cli import DEFAULT_DB, PROG
from payment_intent.dialects.api import Api, WireResponse
from payment_intent.domain.currencies import in_major_units
from payment_intent.ports import Store

#: The demo's clock starts where the seed documents' example intent was created.
DEMO_START = 1_706_140_800
WEEK = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Step:
    """One command: ``params`` as typed on a shell; ``name`` labels the intent it creates,
    ``intent`` the one it acts on; ``later`` moves the clock first; ``expect`` is the status it
    leaves the intent in (the dialect's word), or for ``expire`` the name of the hold it must
    cancel; ``note`` may name the intent's ``{amount}``, ``{amount_received}`` and
    ``{amount_capturable}``."""

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
         name="rent", expect="requires_payment_method", note="{amount}, captured by hand later"),
    Step("update", "payment_method=pm_card_threeDSecure2Required", intent="rent",
         expect="requires_confirmation"),
    Step("confirm", "return_url=https://example.com/done", intent="rent",
         expect="requires_action", note="3-D Secure redirect"),
    Step("complete-action", intent="rent", expect="requires_capture",
         note="the customer authenticates; {amount_capturable} is held"),
    Step("capture", "amount_to_capture=100000", intent="rent", expect="succeeded",
         note="captured {amount_received} of {amount}; the rest is released"),
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
    Step("expire", later=WEEK, expect="hold", note="seven days later the hold lapses"),
    Step("retrieve", intent="hold", expect="canceled", note="cancellation_reason: automatic"),
]  # fmt: skip

_MANUAL = "'payment_method_options[card][capture_type]=manual'"
_PAYREX = [
    Step("create", "amount=120000 currency=PHP 'payment_methods[]=card' "
         f"'payment_methods[]=gcash' 'description=Rent February' {_MANUAL}",
         name="rent", expect="awaiting_payment_method",
         note="{amount}, held, then captured by hand"),
    Step("attach", "payment_method_id=pm_card_threeDSecure2Required "
         "return_url=https://example.com/done",
         intent="rent", expect="awaiting_next_action", note="3-D Secure redirect"),
    Step("complete-action", intent="rent", expect="awaiting_capture",
         note="the customer authenticates; {amount_capturable} is held"),
    Step("capture", "amount=100000", intent="rent", expect="succeeded",
         note="captured {amount_received} of {amount}; the rest is released"),
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
    Step("expire", later=WEEK, expect="hold", note="seven days later the hold lapses"),
    Step("retrieve", intent="hold", expect="canceled", note="cancellation_reason: automatic"),
]  # fmt: skip


def demo_script(dialect: str) -> list[Step]:
    """The steps of the demo in ``dialect``'s words."""
    return _PAYREX if dialect == "payrex" else _CASAPAY


def command_words(step: Step, intent_id: str, dialect: str, db: str | None, now: int) -> list[str]:
    """The command line that runs ``step`` by hand, after the program's name: the dialect and the
    store are named whenever they are not the command line's defaults."""
    words = [step.command, *([intent_id] if intent_id else []), *shlex.split(step.params)]
    words += ["--at", str(now)]
    if dialect != "casapay":
        words += ["--dialect", dialect]
    if db is not None:
        words += ["--db", db]
    return words


def run(
    dialect: str,
    out: TextIO,
    call: Callable[[Api, list[str]], WireResponse],
    *,
    store: Store | None = None,
    db: str | None = None,
    start: int = DEMO_START,
) -> int:
    """Run the script over ``store`` (a throw-away one by default) with the clock starting at
    ``start``, each step through ``call`` as the command line it prints; ``db`` is the ``--db``
    those commands name, if any. 0 when every step ended as expected."""
    clock = ManualClock(start)
    api = Api.over(dialect, None, store if store is not None else InMemoryStore(), clock=clock)
    ids: dict[str, str] = {}
    statuses: dict[str, str] = {}
    failures = 0
    out.write(f"A checkout in {dialect} terms; each step is the command that repeats it by hand.\n")
    kept = f"./{DEFAULT_DB} (or --db FILE)" if db is None else f"{db}, with the demo's own"
    out.write(f"By hand, intents are kept in {kept}; each create prints\n")
    out.write("its own id: use it where the demo's id appears.\n")
    for step in demo_script(dialect):
        clock.advance(step.later)
        words = command_words(step, ids.get(step.intent, ""), dialect, db, clock.now())
        out.write(f"\n$ {PROG} {shlex.join(words)}\n")
        response = call(api, words)
        intent = _intent_in(response, dialect)
        if step.command == "expire":
            expired = [i["id"] for i in response.body.get("data", [])]
            out.write(f"  {len(expired)} hold(s) expired: {', '.join(expired) or 'none'}\n")
            outcome = step.expect if ids.get(step.expect) in expired else ""
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
            out.write(f"  ({_fill(step.note, intent)})\n")
        if outcome != step.expect:
            failures += 1
            out.write(f"  !! expected {step.expect}, got {outcome or 'an error'}\n")
    return 1 if failures else 0


def _fill(note: str, intent: dict[str, Any] | None) -> str:
    """``note`` with the intent's amounts in it, as a person reads them (``{amount}``)."""
    if intent is None:
        return note
    fields = ("amount", "amount_received", "amount_capturable")
    return note.format(**{f: in_major_units(intent[f], intent["currency"]) for f in fields})


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
