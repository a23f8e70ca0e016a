"""``payment-intent``: the command line, and the project's main job.

Every command runs through the same dialect pipeline as the HTTP server (:meth:`Api.call`), so
``payment-intent create amount=5000 currency=eur`` prints exactly what ``POST /v1/payment_intents``
would answer, and fails with exactly its error body. Parameters are written ``name=value`` in the
chosen dialect's wire names, brackets included (``metadata[period]=2025-02``,
``payment_methods[]=card``). The store is the SQLite file ``payment_intents.sqlite3`` in the
working directory unless ``--db`` or ``PAYMENT_INTENT_STORE`` names another; ``--at`` pins the clock.

With no command, it runs ``demo``: a scripted checkout through every transition, printed as the
commands that reproduce it by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import urlencode

from payment_intent.adapters.clocks import ManualClock, SystemClock
from payment_intent.adapters.memory import InMemoryStore
from payment_intent.dialects.api import Api, WireResponse
from payment_intent.dialects.forms import decode_form
from payment_intent.dialects.keys import ApiKeys
from payment_intent.domain.errors import PaymentIntentError
from payment_intent.ports import Clock, Store

DEFAULT_DB = "payment_intents.sqlite3"
STORE_ENV = "PAYMENT_INTENT_STORE"
KEYS_ENV = "PAYMENT_INTENT_API_KEYS"
#: The demo's clock starts where the seed documents' example intent was created.
DEMO_START = 1_706_140_800
WEEK = 7 * 24 * 3600

#: command → (operation, whether it names an intent)
COMMANDS: dict[str, tuple[str, bool]] = {
    "create": ("create", False),
    "retrieve": ("retrieve", True),
    "update": ("update", True),
    "list": ("list", False),
    "confirm": ("confirm", True),
    "capture": ("capture", True),
    "cancel": ("cancel", True),
    "attach": ("attach", True),
    "complete-action": ("complete_action", True),
    "settle": ("settle", True),
    "expire": ("expire", False),
    "events": ("events", False),
}
_HELP = {
    "create": "create an intent",
    "retrieve": "show an intent (client_secret=… for the browser's view)",
    "update": "change an intent",
    "list": "list intents, newest first",
    "confirm": "attempt the payment (CasaPay)",
    "capture": "capture all or part of a hold",
    "cancel": "cancel an intent",
    "attach": "test mode: the customer's browser attaches a method and confirms",
    "complete-action": "test mode: the customer completes (succeed=false: fails) the redirect",
    "settle": "test mode: the asynchronous method succeeds (succeed=false: fails)",
    "expire": "cancel every hold past capture_before_at",
    "events": "the event feed, oldest first",
}


# -- the parser ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--dialect", choices=("casapay", "payrex"), default=argparse.SUPPRESS,
        help="wire language of input and output (default: casapay)",
    )  # fmt: skip
    common.add_argument(
        "--db", default=argparse.SUPPRESS,
        help=f"SQLite file or store URL (default: ${STORE_ENV} or ./{DEFAULT_DB})",
    )  # fmt: skip
    common.add_argument(
        "--at", type=int, default=argparse.SUPPRESS, metavar="TIMESTAMP",
        help="pin the clock to this Unix time",
    )  # fmt: skip

    parser = argparse.ArgumentParser(
        prog="payment-intent",
        description="PaymentIntents from the command line, in CasaPay or PayRex JSON.",
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("demo", parents=[common], help="a scripted checkout through every transition")
    serve = commands.add_parser("serve", parents=[common], help="run the local stand-in provider")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=4242)
    serve.add_argument(
        "--api-key", action="append", default=[], metavar="KEY",
        help=f"a key the server accepts (repeatable; or ${KEYS_ENV}, comma-separated)",
    )  # fmt: skip
    serve.add_argument("--live-db", help="store for live-mode keys (never shared with test mode)")
    serve.add_argument("--clock", choices=("system", "manual"), default="system")
    serve.add_argument("--verbose", action="store_true", help="log every request")
    for name, (_, names_intent) in COMMANDS.items():
        command = commands.add_parser(name, parents=[common], help=_HELP[name])
        if names_intent:
            command.add_argument("intent", metavar="ID")
        command.add_argument(
            "params", nargs="*", metavar="NAME=VALUE", help="parameters, in the dialect's names"
        )
        if name in ("create", "update", "confirm", "capture", "cancel", "attach"):
            command.add_argument("--idempotency-key")
    commands.add_parser("diagram", parents=[common], help="the lifecycle as a mermaid diagram")
    return parser


# -- running a command ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 1 refused, 2 usage)."""
    out = out if out is not None else sys.stdout
    args = build_parser().parse_args(argv)
    dialect: str = getattr(args, "dialect", "casapay")
    command: str = args.command or "demo"
    try:
        if command == "demo":
            return demo(dialect, out)
        if command == "diagram":
            from payment_intent.diagram import lifecycle_mermaid

            out.write(lifecycle_mermaid())
            return 0
        if command == "serve":
            return serve(args, dialect)
        store = open_store(getattr(args, "db", None))
    except (PaymentIntentError, ValueError) as error:
        return _fail(dialect, error, out)
    try:
        clock: Clock = ManualClock(args.at) if hasattr(args, "at") else SystemClock()
        api = Api.over(dialect, None, store, clock=clock)
        operation, names_intent = COMMANDS[command]
        response = api.call(
            operation,
            args.intent if names_intent else "",
            _params(args.params),
            idempotency_key=getattr(args, "idempotency_key", None),
        )
    except (PaymentIntentError, ValueError) as error:
        return _fail(dialect, error, out)
    finally:
        store.close()
    _print(response.body, out)
    return 0 if response.status == 200 else 1


def open_store(db: str | None) -> Store:
    """``--db`` (a path or a store URL), else ``$PAYMENT_INTENT_STORE``, else ./payment_intents.sqlite3."""
    from payment_intent.stores import store_from_url

    chosen = db or os.environ.get(STORE_ENV, "").strip() or DEFAULT_DB
    if "://" not in chosen:
        chosen = "sqlite:///" + chosen
    return store_from_url(chosen)


def _params(pairs: Sequence[str]) -> dict[str, Any]:
    split = []
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals:
            raise ValueError(f"Parameters are written NAME=VALUE; got {pair!r}.")
        split.append((name, value))
    return decode_form(urlencode(split))


def _fail(dialect: str, error: Exception, out: TextIO) -> int:
    from payment_intent.dialects.api import get_dialect

    if not isinstance(error, PaymentIntentError):
        error = PaymentIntentError(str(error), code="parameter_invalid", http_status=400)
    _print(get_dialect(dialect).render_error(error), out)
    return 1


def _print(body: dict[str, Any], out: TextIO) -> None:
    out.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")


def serve(args: argparse.Namespace, dialect: str) -> int:
    """Run the stand-in provider until interrupted."""
    from payment_intent.server import make_server

    keys = ApiKeys([*args.api_key, *os.environ.get(KEYS_ENV, "").split(",")])
    clock: Clock
    if args.clock == "manual":
        clock = ManualClock(getattr(args, "at", None))
    elif hasattr(args, "at"):
        raise ValueError("--at pins a manual clock: add --clock manual.")
    else:
        clock = SystemClock()
    store = open_store(getattr(args, "db", None))
    live_store = open_store(args.live_db) if args.live_db else None
    try:
        api = Api.over(dialect, keys, store, live_store=live_store, clock=clock)
        server = make_server(api, args.host, args.port, verbose=args.verbose)
        host, port = server.server_address[:2]
        prefix = api.dialect.prefix
        print(f"Serving {dialect} on http://{host}:{port}{prefix} (Ctrl-C to stop)", file=sys.stderr)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    finally:
        store.close()
        if live_store is not None:
            live_store.close()
    return 0


# -- the demo ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One command of the scripted checkout. ``intent`` names the intent it acts on (an earlier
    step's ``name``); ``later`` moves the clock forward first; ``expect`` is the resulting status
    in the dialect's words (``None``: the command answers with a list)."""

    command: str
    params: tuple[str, ...] = ()
    name: str = ""
    intent: str = ""
    later: int = 0
    expect: str | None = None
    note: str = ""
    refused: bool = False


def demo_script(dialect: str) -> list[Step]:
    """The scripted checkout: every transition of the lifecycle, as CLI commands."""
    if dialect == "payrex":
        manual = ("payment_method_options[card][capture_type]=manual",)
        return [
            Step("create", ("amount=120000", "currency=PHP", "payment_methods[]=card",
                            "payment_methods[]=gcash", "description=Rent February", *manual),
                 name="rent", expect="awaiting_payment_method", note="hold then capture"),
            Step("attach", ("payment_method_id=pm_card_threeDSecure2Required",
                            "return_url=https://example.com/done"),
                 intent="rent", expect="awaiting_next_action", note="3-D Secure redirect"),
            Step("complete-action", (), intent="rent", expect="awaiting_capture",
                 note="customer authenticates; funds held"),
            Step("capture", ("amount=100000",), intent="rent", expect="succeeded",
                 note="capture 1,000.00 of 1,200.00; the rest is released"),
            Step("create", ("amount=5000", "currency=PHP", "payment_methods[]=gcash"),
                 name="wallet", expect="awaiting_payment_method"),
            Step("attach", ("payment_method_id=pm_gcash",), intent="wallet",
                 expect="awaiting_next_action", note="wallet redirect"),
            Step("complete-action", ("succeed=false",), intent="wallet",
                 expect="awaiting_payment_method", note="customer abandons the wallet page"),
            Step("cancel", (), intent="wallet", expect="canceled"),
            Step("create", ("amount=4000", "currency=PHP"), name="card",
                 expect="awaiting_payment_method"),
            Step("attach", ("payment_method_id=pm_card_visa_chargeDeclined",), intent="card",
                 expect="awaiting_payment_method", note="declined: see last_payment_error"),
            Step("attach", ("payment_method_id=pm_card_visa",), intent="card",
                 expect="succeeded", note="another card, captured at once"),
            Step("create", ("amount=3000", "currency=PHP", *manual), name="hold",
                 expect="awaiting_payment_method"),
            Step("attach", ("payment_method_id=pm_card_visa",), intent="hold",
                 expect="awaiting_capture"),
            Step("expire", (), later=WEEK, note="seven days later: the hold lapses"),
            Step("retrieve", (), intent="hold", expect="canceled", note="reason: automatic"),
        ]  # fmt: skip
    return [
        Step("create", ("amount=120000", "currency=eur", "customer=cus_123456789",
                        "capture_method=manual", "description=Rent payment — February 2025",
                        "metadata[period]=2025-02"),
             name="rent", expect="requires_payment_method", note="manual capture"),
        Step("update", ("payment_method=pm_card_threeDSecure2Required",), intent="rent",
             expect="requires_confirmation"),
        Step("confirm", ("return_url=https://example.com/done",), intent="rent",
             expect="requires_action", note="3-D Secure redirect"),
        Step("complete-action", (), intent="rent", expect="requires_capture",
             note="customer authenticates; funds held"),
        Step("capture", ("amount_to_capture=100000",), intent="rent", expect="succeeded",
             note="capture 1,000.00 of 1,200.00; the rest is released"),
        Step("create", ("amount=5000", "currency=eur", "payment_method=pm_card_visa_chargeDeclined",
                        "confirm=true"),
             name="declined", expect="requires_payment_method", note="card declined",
             refused=True),
        Step("confirm", ("payment_method=pm_card_visa",), intent="declined", expect="succeeded",
             note="another card"),
        Step("create", ("amount=7500", "currency=eur", "payment_method_types[]=open_banking"),
             name="bank", expect="requires_payment_method"),
        Step("confirm", ("payment_method=pm_open_banking",), intent="bank", expect="processing"),
        Step("settle", ("succeed=false",), intent="bank", expect="requires_payment_method",
             note="the bank refuses"),
        Step("confirm", ("payment_method=pm_open_banking",), intent="bank", expect="processing"),
        Step("settle", (), intent="bank", expect="succeeded"),
        Step("create", ("amount=2500", "currency=gbp", "confirmation_method=manual",
                        "payment_method=pm_card_authenticationRequired", "confirm=true",
                        "return_url=https://example.com/done"),
             name="server", expect="requires_action", note="manual confirmation"),
        Step("complete-action", ("succeed=false",), intent="server",
             expect="requires_payment_method", note="authentication fails"),
        Step("confirm", ("payment_method=pm_card_authenticationRequired",), intent="server",
             expect="requires_action"),
        Step("complete-action", (), intent="server", expect="requires_confirmation",
             note="back to the server to confirm"),
        Step("confirm", (), intent="server", expect="succeeded"),
        Step("create", ("amount=2000", "currency=eur"), name="abandoned",
             expect="requires_payment_method"),
        Step("cancel", ("cancellation_reason=abandoned",), intent="abandoned", expect="canceled"),
        Step("create", ("amount=3000", "currency=eur", "capture_method=manual",
                        "payment_method=pm_card_visa", "confirm=true"),
             name="hold", expect="requires_capture"),
        Step("expire", (), later=WEEK, note="seven days later: the hold lapses"),
        Step("retrieve", (), intent="hold", expect="canceled", note="reason: automatic"),
    ]  # fmt: skip


def demo(dialect: str, out: TextIO) -> int:
    """Run :func:`demo_script` over an in-memory store and print each step and its outcome."""
    clock = ManualClock(DEMO_START)
    api = Api.over(dialect, None, InMemoryStore(), clock=clock)
    ids: dict[str, str] = {}
    statuses: dict[str, str] = {}
    out.write(f"A checkout in {dialect} terms; each step is the command that repeats it by hand.\n")
    out.write("(Run over a throw-away store; by hand, the commands keep their intents in ./")
    out.write(f"{DEFAULT_DB}, or --db FILE.)\n")
    for step in demo_script(dialect):
        if step.later:
            clock.advance(step.later)
        operation, names_intent = COMMANDS[step.command]
        intent_id = ids.get(step.intent, "")
        response = api.call(operation, intent_id, _params(step.params))
        shown = " ".join(_quote(p) for p in step.params)
        words = ["$ payment-intent", step.command, intent_id, shown, f"--at {clock.now()}"]
        out.write("\n" + " ".join(w for w in words if w) + "\n")
        intent = _intent_in(response, dialect)
        if step.command == "expire":
            expired = [i["id"] for i in response.body.get("data", [])]
            out.write(f"  → {len(expired)} hold(s) expired: {', '.join(expired) or 'none'}\n")
        elif intent is None:
            out.write(f"  refused: {_error_code(response, dialect)}\n")
        else:
            if step.name:
                ids[step.name] = intent["id"]
            key = step.name or step.intent
            before = statuses.get(key, "(none)")
            statuses[key] = intent["status"]
            error = _error_code(response, dialect)
            line = f"  {intent['id']}: {before} → {intent['status']}"
            out.write(line + (f"  [{error}]" if error else "") + "\n")
        if step.note:
            out.write(f"  ({step.note})\n")
        action = intent.get("next_action") if intent else None
        if action:
            url = action.get("redirect_url") or action["redirect_to_url"]["url"]
            out.write(f"  next_action: redirect the customer to {url}\n")
    return 0


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


def _quote(param: str) -> str:
    return f"'{param}'" if any(c in param for c in " []—&") else param


def main_exit() -> None:
    """The console script's entry point: :func:`main`, its result as the exit status."""
    sys.exit(main())
