"""``payment-intent``: the command line, and the project's main job.

Every command runs through the same dialect pipeline as the HTTP server (:meth:`Api.call`), so
``payment-intent create amount=5000 currency=eur`` prints exactly what ``POST /v1/payment_intents``
would answer, and fails with exactly its error body (exit status 1). Parameters are written
``name=value``, ``--name value`` or ``--name=value`` in the chosen dialect's wire names, brackets
included (``metadata[period]=2025-02``, ``payment_methods[]=card``); each command's ``--help``
lists them. The store is the SQLite file ``payment_intents.sqlite3`` in the working directory
unless ``--db`` or ``PAYMENT_INTENT_STORE`` names another; ``--at`` pins the clock.

A mistake on the command line itself is one line on stderr saying how to put it right, exit
status 2; a reader that stops reading (``payment-intent demo | head``) ends the command quietly.

With no command, it runs ``demo``: a scripted checkout through every transition, printed as the
commands that reproduce it by hand.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import difflib
import errno
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Any, NoReturn, TextIO, Union, get_args, get_origin
from urllib.parse import urlencode

from pydantic import BaseModel

from payment_intent.adapters.clocks import ManualClock, SystemClock
from payment_intent.adapters.memory import InMemoryStore
from payment_intent.dialects.api import Api, WireResponse, get_dialect
from payment_intent.dialects.forms import decode_form
from payment_intent.dialects.keys import ApiKeys
from payment_intent.domain.errors import PaymentIntentError
from payment_intent.operations import COMMANDS, OperationSpec
from payment_intent.ports import Clock, Store
from payment_intent.server import MAX_CONNECTIONS, REQUEST_TIMEOUT
from payment_intent.service.sweep import PeriodicSweep

PROG = "payment-intent"
DEFAULT_DB = "payment_intents.sqlite3"
STORE_ENV = "PAYMENT_INTENT_STORE"
KEYS_ENV = "PAYMENT_INTENT_API_KEYS"
DIALECTS = ("casapay", "payrex")
#: The exit status of a command whose reader went away: what a shell reports for a program that
#: a closed pipe ended (128 + SIGPIPE), as ``yes | head`` does.
BROKEN_PIPE = 141


class UsageError(SystemExit):
    """A mistake on the command line: printed as one line on stderr, exit status 2. It is a
    ``SystemExit``, as argparse's own errors are, for code that calls the parser itself."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(2)
        self.line = f"{where}: {message}"

    def __str__(self) -> str:
        return self.line


# -- the parser ----------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, where a mistake is a :class:`UsageError` naming the fix instead of the usage."""

    #: Every argument a parser takes, by flag (or a positional's name): what a fix quotes.
    flags: dict[str, argparse.Action]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)  # --d is not --db: parameters share the -- space
        self.flags = {}
        for parent in kwargs.get("parents", ()):
            self.flags.update(parent.flags)
        super().__init__(*args, **kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        names = action.option_strings or [str(action.metavar or action.dest)]
        self.flags.update(dict.fromkeys(names, action))
        return action

    def error(self, message: str) -> NoReturn:
        unknown = re.fullmatch(
            r"argument COMMAND: invalid choice: (.+?) \(choose from .*\)", message
        )
        if unknown is not None:
            given = ast.literal_eval(unknown[1])
            close = difflib.get_close_matches(given, _COMMAND_NAMES, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            commands = ", ".join(_COMMAND_NAMES)
            raise UsageError(self.prog, f"no command {given!r}; {hint}(commands: {commands})")
        required = message.removeprefix("the following arguments are required: ")
        flag = message.removeprefix("argument ").partition(":")[0].split("/")[0]
        if required != message:
            flag = required.split(", ")[0]
        action = self.flags.get(flag)
        if "(choose from " in message:
            pass  # the choices are the fix
        elif action is not None and action.help not in (None, argparse.SUPPRESS):
            metavar = action.metavar or action.dest.upper()
            shown = f"{flag} {metavar}" if action.option_strings else flag
            message += f" ({shown}: {action.help})"
        else:
            message += f" (see {self.prog} --help)"
        raise UsageError(self.prog, message)


class _CommandLine(_Parser):
    """The whole command line. argparse reads the options; the words it leaves over (an intent's
    id, parameters) are the command's own, and ``parse_args`` reads them as the command does:
    ``args.request`` is the operation asked for (``None`` for demo, serve and diagram)."""

    def parse_args(self, args: Iterable[str] | None = None, namespace: Any = None) -> Any:
        parsed, rest = self.parse_known_args(args, namespace)
        parsed.command = parsed.command or "demo"
        parsed.request = None
        if parsed.command in COMMANDS:
            parsed.request = request_of(parsed, rest)
        elif rest:
            where = f"{PROG} {parsed.command}"
            raise UsageError(where, f"unrecognized arguments: {' '.join(rest)} (see {where} -h)")
        return parsed


_COMMAND_NAMES = ("demo", "serve", *COMMANDS, "diagram", "trigger")


def _timestamp(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a Unix time in whole seconds: {text!r}")
    return int(text)


def _common_options(*, hidden: bool = False) -> _Parser:
    """--dialect, --db and --at, which every command takes (``hidden``: only to refuse them)."""
    common = _Parser(add_help=False)
    shown = {
        "--dialect": "wire language of input and output (default: casapay)",
        "--db": f"SQLite file or store URL (default: ${STORE_ENV} or ./{DEFAULT_DB})",
        "--at": "pin the clock to this Unix time, such as 1706140800",
    }
    help_of = dict.fromkeys(shown, argparse.SUPPRESS) if hidden else shown
    common.add_argument(
        "--dialect", choices=DIALECTS, default=argparse.SUPPRESS, help=help_of["--dialect"]
    )
    common.add_argument("--db", default=argparse.SUPPRESS, help=help_of["--db"])
    common.add_argument(
        "--at",
        type=_timestamp,
        default=argparse.SUPPRESS,
        metavar="TIMESTAMP",
        help=help_of["--at"],
    )
    return common


def build_parser(dialect: str = "casapay") -> argparse.ArgumentParser:
    """The whole command line; each command's help speaks ``dialect``'s parameter names."""
    common = _common_options()
    parser = _CommandLine(
        prog=PROG,
        description="PaymentIntents from the command line, in CasaPay or PayRex JSON.",
        epilog=f"Each command's --help lists its parameters; {PROG} alone runs the demo.",
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.add_parser(
        "demo",
        parents=[common],
        help="a scripted checkout through every transition",
        description="A scripted checkout through every transition, printed as the commands that "
        "repeat it by hand. --db keeps the demo's intents in that store; --at starts its clock.",
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
        summary = spec.summary if dialect in spec.dialects else f"{spec.summary} (not {dialect})"
        command = commands.add_parser(
            name,
            parents=[common],
            help=summary,
            usage=f"%(prog)s {'ID ' if spec.names_intent else ''}[name=value ...] [options]",
            description=_describe(spec, dialect),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if spec.keyed:
            command.add_argument(
                "--idempotency-key", metavar="KEY", help="repeat a request at most once"
            )
    commands.add_parser(
        "diagram",
        parents=[_common_options(hidden=True)],
        help="the lifecycle as a mermaid diagram",
        description="The lifecycle as a mermaid state diagram, in the canonical status names.",
    )
    _trigger_command(commands, common)
    return parser


def _describe(spec: OperationSpec, dialect: str) -> str:
    """A command's help: what it does, its parameters in the dialect's names, an example."""
    assert spec.command is not None
    if dialect not in spec.dialects:
        return f"{spec.summary}.\n\n{_not_in(spec, dialect)}"
    names = list(wire_parameters(spec, dialect))
    lines = [f"{spec.summary}.", ""]
    if names:
        lines.append(
            f"parameters, in {dialect}'s names (name=value, --name value or --name=value):"
        )
        lines.extend(f"  {shown}{' (required)' if required else ''}" for shown, required in names)
    else:
        lines.append("parameters: none")
    lines += ["", "example:", f"  {example(spec, dialect)}"]
    return "\n".join(lines)


def wire_parameters(spec: OperationSpec, dialect: str) -> Iterator[tuple[str, bool]]:
    """Every way to write a parameter of ``spec`` in ``dialect``'s names, and whether it is
    required: the registry's parameter model, hashes and lists spelled with their brackets."""
    wire = get_dialect(dialect)
    for name, field in spec.params.model_fields.items():
        for spelling in _spellings(name, field.annotation):
            yield wire.wire_param(spelling, spec.name), field.is_required()


def _spellings(name: str, annotation: Any) -> Iterator[str]:
    """``name`` as a form spells a value of ``annotation``: ``metadata[KEY]``, ``list[]``,
    ``payment_method_options[card][capture_type]``; a union yields each member's spelling."""
    origin = get_origin(annotation)
    if origin in (Union, UnionType):  # Optional[X], and created's int | CreatedFilter
        members = [m for m in get_args(annotation) if m is not type(None)]
        yield from dict.fromkeys(s for m in members for s in _spellings(name, m))
    elif origin is Annotated:
        yield from _spellings(name, get_args(annotation)[0])
    elif origin is list:
        yield f"{name}[]"
    elif origin is dict:
        yield f"{name}[KEY]"
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for field_name, field in annotation.model_fields.items():
            yield from _spellings(f"{name}[{field_name}]", field.annotation)
    else:
        yield name


def example(spec: OperationSpec, dialect: str) -> str:
    """The registry's example of ``spec`` as a whole command in ``dialect``: its names renamed,
    a currency the dialect does not take replaced by one it does (``ID`` stands for an id)."""
    assert spec.command is not None
    wire = get_dialect(dialect)
    allowed = wire.profile.currencies
    words = [PROG, spec.command, *(["ID"] if spec.names_intent else [])]
    for pair in spec.example.split():
        name, _, value = pair.partition("=")
        if name == "currency" and allowed is not None and value.lower() not in allowed:
            value = sorted(allowed)[0].upper()
        words.append(f"{wire.wire_param(name, spec.name)}={value}")
    if dialect != "casapay":
        words += ["--dialect", dialect]
    return " ".join(words)


def _not_in(spec: OperationSpec, dialect: str) -> str:
    """Why ``dialect`` has no ``spec``, and its command that takes the same parameters (PayRex's
    attach for confirm), or else the commands it has."""
    instead = [
        other
        for other in COMMANDS.values()
        if other is not spec and other.params is spec.params and dialect in other.dialects
    ]
    said = f"{dialect} has no {spec.command}"
    if instead:
        other = instead[0]
        return f"{said}; {other.command} takes the same parameters: {example(other, dialect)}"
    has = [name for name, other in COMMANDS.items() if dialect in other.dialects]
    return f"{said}; its commands: {', '.join(has)}"


def _dialect_named_in(words: Sequence[str]) -> str:
    """The ``--dialect`` of a command line, read before parsing so that ``--help`` speaks it."""
    for index, word in enumerate(words):
        value = word.removeprefix("--dialect=") if word.startswith("--dialect=") else None
        if word == "--dialect" and index + 1 < len(words):
            value = words[index + 1]
        if value in DIALECTS:
            return value
    return "casapay"


def parse(words: Sequence[str]) -> argparse.Namespace:
    """A command line's options, and in ``request`` the operation it asks for, if any."""
    args: argparse.Namespace = build_parser(_dialect_named_in(words)).parse_args(list(words))
    return args


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


def _trigger_command(commands: argparse._SubParsersAction[_Parser], common: _Parser) -> None:
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


# -- what one operation command asks for ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    """One operation as a command line asks for it: parameters as (name, value) pairs."""

    spec: OperationSpec
    intent: str
    pairs: list[tuple[str, str]]
    idempotency_key: str | None


def request_of(args: argparse.Namespace, rest: Sequence[str]) -> Request:
    """The operation ``args.command`` names, its intent id and parameters from ``rest``."""
    spec = COMMANDS[args.command]
    dialect: str = getattr(args, "dialect", "casapay")
    where = f"{PROG} {spec.command}"
    if dialect not in spec.dialects:
        raise UsageError(where, _not_in(spec, dialect))
    intent, pairs = _words(spec, dialect, rest)
    if spec.names_intent:
        if intent is None:
            raise UsageError(where, f"the intent's ID comes first: {example(spec, dialect)}")
        if intent == "ID" or "…" in intent:
            raise UsageError(where, f"{intent} stands for an id: put the one create printed there")
    return Request(spec, intent or "", pairs, getattr(args, "idempotency_key", None))


def _words(
    spec: OperationSpec, dialect: str, rest: Sequence[str]
) -> tuple[str | None, list[tuple[str, str]]]:
    """The intent id and the (name, value) pairs of ``rest``: ``name=value``, ``--name value``
    and ``--name=value`` alike; the id is the one word that is neither."""
    where = f"{PROG} {spec.command}"
    intent: str | None = None
    pairs: list[tuple[str, str]] = []
    words = list(rest)
    while words:
        word = words.pop(0)
        if word.startswith("-") and not _is_number(word):
            name, equals, value = word.lstrip("-").partition("=")
            if not word.startswith("--") or not _is_parameter(spec, dialect, name):
                raise UsageError(where, _unknown_option(spec, dialect, word))
            if not equals:
                if not words or words[0].startswith("--"):
                    raise UsageError(
                        where, f"--{name} needs a value: --{name} VALUE or {name}=VALUE"
                    )
                value = words.pop(0)
            pairs.append((name, value))
        elif "=" in word:
            name, _, value = word.partition("=")
            pairs.append((name, value))
        elif spec.names_intent and intent is None and not pairs:
            intent = word
        else:
            shown = "the intent's ID, then " if spec.names_intent else ""
            raise UsageError(
                where,
                f"{word!r} is not a parameter: write {shown}name=value or --name value, "
                f"such as {example(spec, dialect)}",
            )
    return intent, pairs


def _is_number(word: str) -> bool:
    return word[1:].replace(".", "", 1).isdigit()


def _is_parameter(spec: OperationSpec, dialect: str, name: str) -> bool:
    """Whether ``--name`` is a parameter: one of the dialect's names for the operation, or a
    canonical name the dialect renames (sent on, so the API refuses it as it would over HTTP)."""
    head = name.partition("[")[0]
    if head in spec.params.model_fields:
        return True
    try:
        get_dialect(dialect).to_canonical(spec.name, {head: ""}, form=False)
    except PaymentIntentError:
        return False
    return True


def _unknown_option(spec: OperationSpec, dialect: str, word: str) -> str:
    names = [shown for shown, _ in wire_parameters(spec, dialect)]
    takes = f"its parameters: {', '.join(names)}" if names else "it takes no parameters"
    options = ["--dialect", "--db", "--at", *(["--idempotency-key"] if spec.keyed else [])]
    close = difflib.get_close_matches(word, [*(f"--{n}" for n in names), *options], n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return f"{spec.command} has no option {word}; {hint}{takes}; options: {', '.join(options)}"


# -- running a command ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 1 refused, 2 a mistake)."""
    out = out if out is not None else sys.stdout
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        with contextlib.redirect_stdout(out):  # --help writes where the output goes
            args = parse(words)
        return _run(args, out)
    except UsageError as mistake:
        print(mistake, file=sys.stderr)
        return 2
    except SystemExit as done:  # --help, once argparse has printed it
        return int(done.code or 0)


def _run(args: argparse.Namespace, out: TextIO) -> int:
    dialect: str = getattr(args, "dialect", "casapay")
    command: str = args.command
    if command == "diagram":
        return _diagram(args, out)
    if command == "demo":
        return _demo(args, dialect, out)
    if command == "serve":
        return serve(args, dialect)
    if command == "trigger":
        if hasattr(args, "db") or hasattr(args, "at"):
            raise UsageError(
                f"{PROG} trigger",
                "trigger acts on the running server at --url, with its store and clock, so it "
                "takes no --db or --at",
            )
        return trigger(args, dialect, out)
    request: Request = args.request
    store = _store_for(getattr(args, "db", None))
    try:
        clock: Clock = ManualClock(args.at) if hasattr(args, "at") else SystemClock()
        response = _answer(Api.over(dialect, None, store, clock=clock), request)
    finally:
        store.close()
    _print(response.body, out)
    return 0 if response.status == 200 else 1


def _diagram(args: argparse.Namespace, out: TextIO) -> int:
    if hasattr(args, "dialect"):
        raise UsageError(
            f"{PROG} diagram",
            "the diagram is drawn in the canonical status names only, so it takes no --dialect "
            f"(docs/lifecycle.md gives PayRex's word for each); run: {PROG} diagram",
        )
    if hasattr(args, "db") or hasattr(args, "at"):
        raise UsageError(
            f"{PROG} diagram", f"the diagram reads no store and no clock; run: {PROG} diagram"
        )
    from payment_intent.diagram import lifecycle_mermaid

    out.write(lifecycle_mermaid())
    return 0


def _demo(args: argparse.Namespace, dialect: str, out: TextIO) -> int:
    """The demo over a throw-away store, or over ``--db`` so its intents stay to be retrieved."""
    from payment_intent import walkthrough

    db: str | None = getattr(args, "db", None)
    start: int = getattr(args, "at", walkthrough.DEMO_START)
    store = _store_for(db) if db is not None else InMemoryStore()
    try:
        # A memory store ends with the demo: the commands by hand cannot share it.
        kept = None if isinstance(store, InMemoryStore) else db
        return walkthrough.run(dialect, out, run_words, store=store, db=kept, start=start)
    finally:
        store.close()


def run_words(api: Api, words: Sequence[str]) -> WireResponse:
    """One command line's words, as :func:`main` reads them, run over ``api`` (the demo runs
    each step it prints through this, so what it prints is what ran)."""
    args = parse(words)
    if getattr(args, "dialect", "casapay") != api.dialect.name or args.request is None:
        raise ValueError(f"{' '.join(words)!r} is not an operation in {api.dialect.name}")
    return _answer(api, args.request)


def _answer(api: Api, request: Request) -> WireResponse:
    """The API's answer, read from the pairs as it reads a form body (and refused as it would)."""
    try:
        params = decode_form(urlencode(request.pairs))
    except PaymentIntentError as error:
        return WireResponse(error.http_status, api.dialect.render_error(error))
    return api.call(
        request.spec.name, request.intent, params, idempotency_key=request.idempotency_key
    )


def open_store(db: str | None) -> Store:
    """``--db`` (a path or a store URL), else ``$PAYMENT_INTENT_STORE``, else the default file."""
    from payment_intent.stores import store_from_url

    return store_from_url(_store_url(db))


def _store_for(db: str | None) -> Store:
    """:func:`open_store`, a store that cannot be opened said in one line as the mistake."""
    named = os.environ.get(STORE_ENV, "").strip()
    source = "--db" if db else f"${STORE_ENV}" if named else "the default store"
    try:
        return open_store(db)
    except PaymentIntentError as error:
        raise UsageError(PROG, f"{source}: {error.message}") from None
    except Exception as error:  # the database itself: missing driver, unreachable, unreadable
        raise UsageError(PROG, f"{source}: cannot open {_store_url(db)!r}: {error}") from None


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
        start_serve_delivery,
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
    sweeper = None
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
        live_at = _store_url(args.live_db) if args.live_db else None
        worker = start_serve_delivery(api, store_url, live_at, test_schedule, live_schedule)
        # Reads show a lapsed hold canceled at once; the sweep stores it and emits its event.
        sweeper = PeriodicSweep(api.services.values()).start()
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
        if sweeper is not None:
            sweeper.stop()
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
    try:
        status = main()
        sys.stdout.flush()  # a reader that went away shows here, not at the interpreter's exit
    except BrokenPipeError:
        # Quietly: no traceback, and nothing more for Python to flush into the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = BROKEN_PIPE
    sys.exit(status)
