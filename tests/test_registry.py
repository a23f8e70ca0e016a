"""One registry of operations: the API, the dialects' routes and the command line agree on it."""

from __future__ import annotations

import argparse

from payment_intent.cli import build_parser
from payment_intent.dialects.casapay import CasaPay
from payment_intent.dialects.payrex import PayRex
from payment_intent.operations import COMMANDS, KEYED, OPERATIONS


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices)


def test_the_command_line_takes_an_idempotency_key_exactly_where_the_api_honours_one() -> None:
    subcommands = _subcommands()
    offered = {
        spec.name
        for name, spec in COMMANDS.items()
        if "--idempotency-key" in subcommands[name].format_usage()
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
    assert set(_subcommands()) >= set(COMMANDS)
    assert all(spec.command == name for name, spec in COMMANDS.items())
