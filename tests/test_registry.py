"""One registry of operations: the API, the dialects' routes and the command line agree on it."""

from __future__ import annotations

import contextlib
import io

from payment_intent.cli import build_parser
from payment_intent.dialects.casapay import CasaPay
from payment_intent.dialects.payrex import PayRex
from payment_intent.operations import COMMANDS, KEYED, OPERATIONS


def _accepts(*words: str) -> bool:
    """Whether the command line parses ``words`` (argparse exits on what it does not know)."""
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            build_parser().parse_args(list(words))
    except SystemExit:
        return False
    return True


def test_the_command_line_takes_an_idempotency_key_exactly_where_the_api_honours_one() -> None:
    offered = {
        spec.name
        for name, spec in COMMANDS.items()
        if _accepts(name, *(["pi_1"] if spec.names_intent else []), "--idempotency-key", "k")
    }
    assert offered == {spec.name for spec in COMMANDS.values()} & KEYED
    assert offered == {"create", "update", "confirm", "capture", "cancel", "attach",
                       "complete_action", "settle"}  # fmt: skip


def test_every_operation_with_an_endpoint_is_routed_in_its_dialects() -> None:
    for dialect in (CasaPay(), PayRex()):
        routed = {route.operation for route in dialect.routes}
        expected = {name for name, spec in OPERATIONS.items() if dialect.name in spec.endpoints}
        assert routed == expected, dialect.name


def test_every_command_line_command_names_a_registered_operation() -> None:
    for name, spec in COMMANDS.items():
        assert spec.command == name
        assert _accepts(name, *(["pi_1"] if spec.names_intent else []))
