"""``payment-intent``: the command line, and the project's main job.

Every command runs through the same dialect pipeline as the HTTP server (:meth:`Api.call`), so
``payment-intent create amount=5000 currency=eur`` prints exactly what ``POST /v1/payment_intents``
would answer, and fails with exactly its error body. Parameters are written ``name=value`` in the
chosen dialect's wire names, brackets included (``metadata[period]=2025-02``,
``payment_methods[]=card``). The store is the SQLite file ``payment_intents.sqlite3`` in the
working directory unless ``--db`` or ``PAYMENT_INTENT_STORE`` names another; ``--at`` pins the
clock.

With no command, it runs ``demo``: a scripted checkout through every transition, printed as the
commands that reproduce it by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO
from urllib.parse import urlencode

from payment_intent.adapters.clocks import ManualClock, SystemClock
from payment_intent.dialects.api import Api, WireResponse, get_dialect
from payment_intent.dialects.forms import decode_form
from payment_intent.dialects.keys import ApiKeys
from payment_intent.domain.errors import InvalidRequestError, PaymentIntentError
from payment_intent.operations import COMMANDS
from payment_intent.ports import Clock, Store
from payment_intent.server import MAX_CONNECTIONS, REQUEST_TIMEOUT

DEFAULT_DB = "payment_intents.sqlite3"
STORE_ENV = "PAYMENT_INTENT_STORE"
KEYS_ENV = "PAYMENT_INTENT_API_KEYS"

# -- the parser ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--dialect",
        choices=("casapay", "payrex"),
        default=argparse.SUPPRESS,
        help="wire language of input and output (default: casapay)",
    )
    common.add_argument(
        "--db",
        default=argparse.SUPPRESS,
        help=f"SQLite file or store URL (default: ${STORE_ENV} or ./{DEFAULT_DB})",
    )
    common.add_argument(
        "--at",
        type=int,
        default=argparse.SUPPRESS,
        metavar="TIMESTAMP",
        help="pin the clock to this Unix time",
    )

    parser = argparse.ArgumentParser(
        prog="payment-intent",
        description="PaymentIntents from the command line, in CasaPay or PayRex JSON.",
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "demo", parents=[common], help="a scripted checkout through every transition"
    )
    serve = commands.add_parser("serve", parents=[common], help="run the local stand-in provider")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=4242)
    serve.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY",
        help=f"a key the server accepts (repeatable; or ${KEYS_ENV}, comma-separated)",
    )
    serve.add_argument("--live-db", help="store for live-mode keys (never shared with test mode)")
    serve.add_argument("--clock", choices=("system", "manual"), default="system")
    serve.add_argument("--verbose", action="store_true", help="log every request")
    serve.add_argument(
        "--idle-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="close a keep-alive connection idle this long (default: 30)",
    )
    serve.add_argument(
        "--request-timeout",
        type=float,
        default=REQUEST_TIMEOUT,
        metavar="SECONDS",
        help="answer 408 to a request not whole this long after its first byte "
        f"(default: {REQUEST_TIMEOUT:g})",
    )
    serve.add_argument(
        "--max-connections",
        type=int,
        default=MAX_CONNECTIONS,
        metavar="N",
        help=f"answer 503 to connections past N open ones (default: {MAX_CONNECTIONS})",
    )
    for name, spec in COMMANDS.items():
        command = commands.add_parser(name, parents=[common], help=spec.summary)
        if spec.names_intent:
            command.add_argument("intent", metavar="ID")
        command.add_argument(
            "params", nargs="*", metavar="NAME=VALUE", help="parameters, in the dialect's names"
        )
        if spec.keyed:
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
            from payment_intent import walkthrough

            return walkthrough.run(dialect, out, _call)
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
        spec = COMMANDS[command]
        response = api.call(
            spec.name,
            args.intent if spec.names_intent else "",
            _params(args.params),
            idempotency_key=getattr(args, "idempotency_key", None),
        )
    except (PaymentIntentError, ValueError) as error:
        return _fail(dialect, error, out)
    finally:
        store.close()
    _print(response.body, out)
    return 0 if response.status == 200 else 1


def _call(api: Api, command: str, intent_id: str, params: Sequence[str]) -> WireResponse:
    """One command, as :func:`main` runs it, over ``api`` (the demo runs its steps through this)."""
    return api.call(COMMANDS[command].name, intent_id, _params(params))


def open_store(db: str | None) -> Store:
    """``--db`` (a path or a store URL), else ``$PAYMENT_INTENT_STORE``, else the default file."""
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
    if not isinstance(error, PaymentIntentError):
        error = InvalidRequestError(str(error), code="parameter_invalid")
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
        server = make_server(
            lambda origin: Api.over(
                dialect, keys, store, live_store=live_store, clock=clock, origin=origin
            ),
            args.host,
            args.port,
            verbose=args.verbose,
            idle_timeout=args.idle_timeout,
            request_timeout=args.request_timeout,
            max_connections=args.max_connections,
        )
        host, port = str(server.server_address[0]), int(server.server_address[1])
        prefix = get_dialect(dialect).prefix
        print(
            f"Serving {dialect} on http://{host}:{port}{prefix} (Ctrl-C to stop)", file=sys.stderr
        )
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


def main_exit() -> None:
    """The console script's entry point: :func:`main`, its result as the exit status."""
    sys.exit(main())
