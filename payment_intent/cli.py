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
import dataclasses
import errno
import functools
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO
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
    serve.add_argument("--port", type=_port, default=4242)
    serve.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY",
        help=f"a key the server accepts (repeatable; or ${KEYS_ENV}, comma-separated; "
        "default: a test key, printed)",
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
    _webhook_flags(serve)
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
    _trigger_command(commands, common)
    return parser


# -- webhooks: serve's flags and the trigger command ---------------------------------------------


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 0 to 65535, not {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"expected seconds above 0 (at most a day), not {text!r}")
    return value


def _attempts(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise argparse.ArgumentTypeError(
            f"expected a number of attempts from 1 to 100, not {text!r}"
        )
    return int(text)


def _webhook_flags(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--forward-to",
        metavar="URL",
        help="register a test-mode endpoint for every event at URL and print its signing secret",
    )
    serve.add_argument(
        "--webhook-attempts", type=_attempts, metavar="N", help="attempts per event (test: 6)"
    )
    serve.add_argument(
        "--webhook-backoff",
        type=_seconds,
        metavar="SECONDS",
        help="wait before the first retry, doubled each time (test: 1)",
    )
    serve.add_argument(
        "--webhook-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="how long a receiver may take to answer (test: 5)",
    )
    # A mistake in serve's flags is one line on stderr and status 2, never a usage screen.
    serve.error = functools.partial(_serve_usage_error, serve.prog)  # type: ignore[method-assign]


def _serve_usage_error(prog: str, message: str) -> NoReturn:
    sys.stderr.write(f"{prog}: {message}\n")
    sys.exit(2)


def _trigger_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    from payment_intent.webhooks.model import EVENT_TYPES

    trigger = commands.add_parser(
        "trigger",
        parents=[common],
        help="make an event happen on a running server (payment_intent.succeeded, ...)",
    )
    trigger.add_argument("event", metavar="EVENT", help=", ".join(EVENT_TYPES))
    trigger.add_argument("--url", default="http://127.0.0.1:4242", help="the running server")
    trigger.add_argument(
        "--api-key", metavar="KEY", help="a test key it accepts (default: serve's)"
    )


# -- running a command ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 1 refused, 2 usage)."""
    out = out if out is not None else sys.stdout
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        message = f"unrecognized arguments: {' '.join(unknown)}"
        if args.command == "serve":
            _serve_usage_error("payment-intent serve", message)
        parser.error(message)
    dialect: str = getattr(args, "dialect", "casapay")
    command: str = args.command or "demo"
    if command == "trigger":
        return trigger(args, dialect, out)
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
    """Run the stand-in provider until interrupted; a set-up that fails (a port in use, a bad key
    or store) is one line on stderr and status 2."""
    try:
        return _serve(args, dialect)
    except _ServeError as error:
        sys.stderr.write(f"payment-intent serve: {error}\n")
        return 2


class _ServeError(Exception):
    """What keeps the server from starting, said in one line."""


def _serve(args: argparse.Namespace, dialect: str) -> int:
    from payment_intent.server import make_server
    from payment_intent.webhooks.model import RetrySchedule
    from payment_intent.webhooks.serving import (
        DEFAULT_TEST_KEY,
        forward_to,
        hooks_beside,
        start_delivery,
    )

    configured = [*args.api_key, *os.environ.get(KEYS_ENV, "").split(",")]
    if not any(key.strip() for key in configured):
        configured = [DEFAULT_TEST_KEY]
    clock: Clock
    try:
        keys = ApiKeys(configured)
        if args.clock == "manual":
            clock = ManualClock(getattr(args, "at", None))
        elif hasattr(args, "at"):
            raise ValueError("--at pins a manual clock: add --clock manual.")
        else:
            clock = SystemClock()
        store_url = _store_url(getattr(args, "db", None))
        store = open_store(store_url)
    except (PaymentIntentError, ValueError) as error:
        raise _ServeError(_said(error)) from None
    except Exception as error:  # the database itself: unreachable, refusing, unreadable
        raise _ServeError(f"cannot open the store {store_url!r}: {error}") from None
    live_store = None
    worker = None
    try:
        try:
            hooks_beside(store, store_url)
            if args.live_db:
                live_url = _store_url(args.live_db)
                live_store = open_store(live_url)
                hooks_beside(live_store, live_url)
        except (PaymentIntentError, ValueError) as error:
            raise _ServeError(_said(error)) from None
        except Exception as error:
            raise _ServeError(f"cannot open the store: {error}") from None
        built: list[Api] = []

        def build(origin: str) -> Api:
            built.append(
                Api.over(dialect, keys, store, live_store=live_store, clock=clock, origin=origin)
            )
            return built[0]

        try:
            server = make_server(
                build,
                args.host,
                args.port,
                verbose=args.verbose,
                idle_timeout=args.idle_timeout,
                request_timeout=args.request_timeout,
                max_connections=args.max_connections,
            )
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise _ServeError(f"port {args.port} on {args.host} is in use") from None
            raise _ServeError(f"cannot listen on {args.host}:{args.port}: {error}") from None
        except (OverflowError, ValueError) as error:
            raise _ServeError(str(error)) from None
        try:
            api = built[0]
            forwarded = forward_to(api, args.forward_to) if args.forward_to else None
        except PaymentIntentError as error:
            server.server_close()
            raise _ServeError(f"--forward-to: {error.message}") from None
        test_schedule = _schedule(RetrySchedule.for_test_mode(), args)
        live_schedule = _schedule(RetrySchedule.for_live_mode(), args)
        worker = start_delivery(api, test_schedule, live_schedule)
        host, port = str(server.server_address[0]), int(server.server_address[1])
        prefix = get_dialect(dialect).prefix
        lines = [
            f"payment-intent serve: {dialect} on http://{host}:{port}{prefix} (Ctrl-C to stop)",
            f"  store: {store_url}"
            + (f", live: {_store_url(args.live_db)}" if args.live_db else ""),
        ]
        test_keys = [k.strip() for k in configured if k.strip().startswith("sk_test_")]
        if test_keys:
            lines.append(f"  test key: {test_keys[0]}")
        if forwarded is not None:
            lines.append(f"  forwarding every event to {forwarded.url}")
            lines.append(f"  webhook signing secret: {forwarded.secret}")
        sys.stderr.write("\n".join(lines) + "\n")
        sys.stderr.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    finally:
        if worker is not None:
            worker.stop()
        store.close()
        if live_store is not None:
            live_store.close()
    return 0


def _store_url(db: str | None) -> str:
    chosen = db or os.environ.get(STORE_ENV, "").strip() or DEFAULT_DB
    return chosen if "://" in chosen else "sqlite:///" + chosen


def _said(error: Exception) -> str:
    return error.message if isinstance(error, PaymentIntentError) else str(error)


def _schedule(base: Any, args: argparse.Namespace) -> Any:
    changes = {
        name: value
        for name, value in (
            ("max_attempts", args.webhook_attempts),
            ("first_delay", args.webhook_backoff),
            ("timeout", args.webhook_timeout),
        )
        if value is not None
    }
    return dataclasses.replace(base, **changes)


def trigger(args: argparse.Namespace, dialect: str, out: TextIO) -> int:
    """Make ``args.event`` happen on the running server at ``args.url``."""
    from payment_intent.webhooks.serving import DEFAULT_TEST_KEY
    from payment_intent.webhooks.trigger import TriggerError
    from payment_intent.webhooks.trigger import trigger as run

    configured = [k.strip() for k in os.environ.get(KEYS_ENV, "").split(",")]
    key = args.api_key or next(
        (k for k in configured if k.startswith("sk_test_")), DEFAULT_TEST_KEY
    )
    try:
        return run(args.event, url=args.url, key=key, dialect=dialect, out=out)
    except TriggerError as error:
        sys.stderr.write(f"payment-intent trigger: {error}\n")
        return 2


def main_exit() -> None:
    """The console script's entry point: :func:`main`, its result as the exit status."""
    sys.exit(main())
