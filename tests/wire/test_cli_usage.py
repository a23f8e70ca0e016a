"""Using the command line: each command's help, the ways to write a parameter, and mistakes.

Help comes from the registry of operations, in the dialect's names; ``name=value``,
``--name value`` and ``--name=value`` are one request; a mistake on the command line is one line
on stderr that says how to put it right, and exit status 2.
"""

from __future__ import annotations

import io
import json
import re
import shlex

import pytest

from payment_intent import cli
from payment_intent.adapters.memory import InMemoryStore
from payment_intent.cli import main, parse
from payment_intent.dialects.api import get_dialect
from payment_intent.operations import COMMANDS, OPERATIONS

DIALECTS = ("casapay", "payrex")


def _help(*words: str) -> str:
    out = io.StringIO()
    assert main([*words, "--help"], out) == 0
    return out.getvalue()


def _example_in(help_text: str) -> list[str]:
    return shlex.split(help_text.split("example:\n", 1)[1].splitlines()[0])


# -- help ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
def test_each_commands_help_lists_every_parameter_of_its_operation(dialect: str) -> None:
    wire = get_dialect(dialect)
    for name, spec in COMMANDS.items():
        if dialect not in spec.dialects:
            continue
        listed = _help(name, "--dialect", dialect).split("example:")[0]
        for field in OPERATIONS[spec.name].params.model_fields:
            assert re.search(
                rf"^  {re.escape(wire.wire_param(field, spec.name))}\b", listed, re.M
            ), (
                name,
                field,
            )


def test_help_speaks_the_dialects_names_where_they_differ() -> None:
    casapay = _help("create")
    assert "  payment_method_types[]\n" in casapay
    assert "  metadata[KEY]\n" in casapay
    assert "  amount (required)\n" in casapay
    assert "  payment_method_options[card][capture_method]\n" in casapay
    payrex = _help("create", "--dialect", "payrex")
    assert "  payment_methods[]\n" in payrex
    assert "  payment_method_id\n" in payrex
    assert "  customer_id\n" in payrex
    assert "  payment_method_options[card][capture_type]\n" in payrex
    assert "payment_method_types" not in payrex
    capture = _help("--dialect=payrex", "capture")
    assert "  amount\n" in capture
    assert "amount_to_capture" not in capture


def test_help_gives_the_registrys_example_as_a_whole_command() -> None:
    assert _example_in(_help("create")) == [
        "payment-intent",
        "create",
        "amount=5000",
        "currency=eur",
    ]
    assert _example_in(_help("capture", "--dialect", "payrex")) == [
        "payment-intent",
        "capture",
        "ID",
        "amount=4000",
        "--dialect",
        "payrex",
    ]
    # PayRex takes PHP only, so its create example does.
    assert "currency=PHP" in _example_in(_help("create", "--dialect", "payrex"))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_help_example_is_accepted_as_printed(
    dialect: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pasted with a real id in place of ID, no example is refused for what it writes; a refusal
    may only be about the intent's status (an example of capture meets an intent not held)."""
    store = InMemoryStore()
    monkeypatch.setattr(cli, "open_store", lambda db: store)
    for name, spec in COMMANDS.items():
        if dialect not in spec.dialects:
            continue
        words = _example_in(_help(name, "--dialect", dialect))
        assert words[:2] == ["payment-intent", name]
        if spec.names_intent:
            made = io.StringIO()
            currency = "currency=eur" if dialect == "casapay" else "currency=PHP"
            assert main(["create", "amount=5000", currency, "--dialect", dialect], made) == 0
            words[words.index("ID")] = json.loads(made.getvalue())["id"]
        out = io.StringIO()
        status = main(words[1:], out)
        body = json.loads(out.getvalue())
        error = body.get("error") or (body.get("errors") or [None])[0]
        assert status == 0 or error["code"] == "payment_intent_unexpected_state", (words, body)


def test_a_command_a_dialect_lacks_says_which_command_to_use() -> None:
    text = _help("confirm", "--dialect", "payrex")
    assert "payrex has no confirm; attach takes the same parameters" in text


# -- writing parameters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "words",
    [
        ["create", "amount=5000", "currency=eur", "metadata[order]=A-1"],
        ["create", "--amount", "5000", "--currency", "eur", "--metadata[order]", "A-1"],
        ["create", "--amount=5000", "--currency=eur", "--metadata[order]=A-1"],
        ["create", "--amount", "5000", "--at", "5", "currency=eur", "--metadata[order]=A-1"],
    ],
)
def test_name_value_and_the_stripe_cli_habit_are_one_request(words: list[str]) -> None:
    request = parse(words).request
    assert request.pairs == [("amount", "5000"), ("currency", "eur"), ("metadata[order]", "A-1")]


def test_an_id_then_dashed_parameters_in_a_dialects_names() -> None:
    request = parse(
        ["capture", "pi_1", "--amount", "4000", "--dialect", "payrex", "--at", "9"]
    ).request
    assert (request.intent, request.pairs) == ("pi_1", [("amount", "4000")])


def test_dashed_parameters_run_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["create", "--amount", "5000", "--currency=eur", "--db", "memory://"])
    assert status == 0
    created = json.loads(capsys.readouterr().out)
    assert (created["amount"], created["currency"]) == (5000, "eur")


def test_a_dashed_name_the_dialect_renames_is_refused_by_the_api_as_over_http(
    capsys: pytest.CaptureFixture[str],
) -> None:
    words = ["create", "--amount", "5000", "--currency", "PHP", "--payment_method_types[]", "card"]
    assert main([*words, "--dialect", "payrex", "--db", "memory://"]) == 1
    error = json.loads(capsys.readouterr().out)["errors"][0]
    assert error["detail"] == "Received unknown parameter: payment_method_types"


# -- mistakes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "says"),
    [
        (["create", "--amount"], "--amount needs a value: --amount VALUE or amount=VALUE"),
        (["create", "amount"], "'amount' is not a parameter: write name=value or --name value"),
        (["create", "--amuont", "5000"], "create has no option --amuont; did you mean --amount?"),
        (["retrieve"], "the intent's ID comes first: payment-intent retrieve ID"),
        (["retrieve", "client_secret=x"], "the intent's ID comes first"),
        (["capture", "pi_…", "amount_to_capture=100"], "pi_… stands for an id"),
        (["list", "pi_1"], "'pi_1' is not a parameter"),
        (["creat", "amount=5000"], "no command 'creat'; did you mean create?"),
        (["create", "--at", "noon"], "--at TIMESTAMP: pin the clock to this Unix time"),
        (["create", "--db"], "argument --db: expected one argument"),
        (["--dialect", "stripe", "create"], "(choose from 'casapay', 'payrex')"),
        (["confirm", "pi_1", "--dialect", "payrex"], "payment-intent attach ID payment_method="),
        (["diagram", "--dialect", "payrex"], "the diagram is drawn in the canonical status names"),
        (["--dialect", "payrex", "diagram"], "so it takes no --dialect"),
        (["diagram", "--db", "x.sqlite3"], "the diagram reads no store and no clock"),
        (["trigger"], "arguments are required: EVENT (EVENT: payment_intent.created, "),
        (["trigger", "payment_intent.created", "--db", "x.sqlite3"], "takes no --db or --at"),
        (["demo", "pi_1"], "payment-intent demo: unrecognized arguments: pi_1"),
        (["create", "amount=5000", "--db", "mysql://x"], "--db: Unknown store URL 'mysql://x'"),
    ],
)
def test_a_mistake_is_one_line_on_stderr_with_the_fix_and_exit_status_2(
    words: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = io.StringIO()
    assert main(words, out) == 2
    assert out.getvalue() == ""
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("payment-intent"), err
    assert says in err
