"""The main job: ``payment-intent demo``, then the same steps by hand, each as it was printed.

A person replays the demo by pasting each printed line. The one word they change is an intent's
id: the demo's intents were made in its own store, so where a printed line names one, they put
the id their own ``create`` printed (the demo's header says so). Nothing is ever added.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from payment_intent import cli
from payment_intent.adapters.memory import InMemoryStore
from payment_intent.cli import BROKEN_PIPE, main
from payment_intent.diagram import lifecycle_mermaid
from payment_intent.walkthrough import DEMO_START, WEEK
from tests.wire.conftest import SEED_KEY, connected, raw_request, read_response

BIN = Path(sys.executable).parent
SCRIPT = BIN / "payment-intent"


def _shell_env() -> dict[str, str]:
    """A user's environment: the installed console script on the PATH, no store configured."""
    assert SCRIPT.exists(), "install the project (pip install -e .) to get payment-intent"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_INTENT_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def _run(words: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``words`` exactly, as a shell runs them (the program found on the PATH)."""
    return subprocess.run(
        words, cwd=cwd, env=_shell_env(), capture_output=True, text=True, timeout=60, check=False
    )


def _printed_steps(output: str) -> list[tuple[list[str], str]]:
    """(the words of a printed command, the result line under it) for every step of a demo."""
    lines = output.splitlines()
    return [
        (shlex.split(line.removeprefix("$ ")), lines[i + 1].strip())
        for i, line in enumerate(lines)
        if line.startswith("$ payment-intent ")
    ]


def _status_of(body: dict[str, Any]) -> str:
    if "error" in body:
        return str(body["error"]["payment_intent"]["status"])
    return str(body["status"])


def _check_replayed_step(
    words: list[str], result: str, status: int, body: dict[str, Any], mine: dict[str, str]
) -> None:
    """The replayed step ended as the demo's did; ``mine`` learns the id it made."""
    if words[1] == "expire":
        expired = int(re.search(r"(\d+) hold", result).group(1))  # type: ignore[union-attr]
        assert len(body["data"]) == expired, (words, body)
        return
    demo_id, _, transition = result.partition(": ")
    expected = transition.split(" → ")[1].split()[0]
    assert _status_of(body) == expected, (words, body)
    declined = "[" in transition
    assert status == (1 if declined else 0), (words, body)
    own_id = body["error"]["payment_intent"]["id"] if "error" in body else body["id"]
    mine.setdefault(demo_id, own_id)


def _by_hand(words: list[str], mine: dict[str, str]) -> list[str]:
    """The printed words as a person types them: their own id where the demo's was."""
    return [mine.get(word, word) for word in words]


# -- the demo, replayed --------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["casapay", "payrex"])
def test_every_printed_command_replays_as_printed(
    dialect: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In one process over one in-memory store, so the words are checked without a database;
    the next test does the same in separate processes over the default SQLite file."""
    demo = io.StringIO()
    assert main(["demo", "--dialect", dialect], demo) == 0, demo.getvalue()
    steps = _printed_steps(demo.getvalue())
    assert len(steps) >= 10
    shared = InMemoryStore()
    monkeypatch.setattr(cli, "open_store", lambda db: shared)
    mine: dict[str, str] = {}
    for words, result in steps:
        assert words[0] == "payment-intent"
        out = io.StringIO()
        status = main(_by_hand(words, mine)[1:], out)
        _check_replayed_step(words, result, status, json.loads(out.getvalue()), mine)


@pytest.mark.parametrize("dialect", ["casapay", "payrex"])
def test_the_demo_then_the_same_steps_by_hand(dialect: str, tmp_path: Path) -> None:
    demo = _run(["payment-intent", "demo", "--dialect", dialect], tmp_path)
    assert demo.returncode == 0, demo.stderr
    steps = _printed_steps(demo.stdout)
    assert len(steps) >= 10
    mine: dict[str, str] = {}
    for words, result in steps:
        done = _run(_by_hand(words, mine), tmp_path)
        assert not done.stderr, (words, done.stderr)
        _check_replayed_step(words, result, done.returncode, json.loads(done.stdout), mine)
    # Everything by hand went to the default database in the working directory.
    assert (tmp_path / "payment_intents.sqlite3").exists()


def test_the_payrex_demo_prints_its_dialect_in_every_command() -> None:
    demo = io.StringIO()
    assert main(["demo", "--dialect", "payrex"], demo) == 0
    for words, _ in _printed_steps(demo.getvalue()):
        assert words[-2:] == ["--dialect", "payrex"], words


def test_python_dash_m_without_arguments_runs_the_demo(tmp_path: Path) -> None:
    done = _run([sys.executable, "-m", "payment_intent"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "$ payment-intent create" in done.stdout
    assert "→ succeeded" in done.stdout
    # The demo runs over a throw-away store.
    assert not (tmp_path / "payment_intents.sqlite3").exists()


def test_the_demos_notes_give_amounts_in_major_units() -> None:
    demo = io.StringIO()
    assert main(["demo"], demo) == 0
    assert "(1200.00 EUR, captured by hand later)" in demo.getvalue()
    assert "(captured 1000.00 EUR of 1200.00 EUR; the rest is released)" in demo.getvalue()
    payrex = io.StringIO()
    assert main(["demo", "--dialect", "payrex"], payrex) == 0
    assert "(captured 1000.00 PHP of 1200.00 PHP; the rest is released)" in payrex.getvalue()


def test_diagram_prints_the_lifecycle_as_mermaid_source() -> None:
    out = io.StringIO()
    assert main(["diagram"], out) == 0
    assert out.getvalue() == lifecycle_mermaid()


def test_demo_at_starts_the_demos_clock_there() -> None:
    demo = io.StringIO()
    assert main(["demo", "--at", "1800000000"], demo) == 0
    times = [int(words[words.index("--at") + 1]) for words, _ in _printed_steps(demo.getvalue())]
    assert times[0] == 1800000000
    assert max(times) == 1800000000 + WEEK
    assert DEMO_START not in times


def test_demo_db_keeps_the_demos_intents_there_to_be_retrieved(tmp_path: Path) -> None:
    demo = _run(["payment-intent", "demo", "--db", "walk.sqlite3"], tmp_path)
    assert demo.returncode == 0, demo.stderr
    steps = _printed_steps(demo.stdout)
    assert all(words[-2:] == ["--db", "walk.sqlite3"] for words, _ in steps)
    # The last step retrieves the hold that lapsed: pasted as printed, it finds the demo's own.
    last, result = steps[-1]
    assert last[1] == "retrieve"
    retrieved = _run(last, tmp_path)
    assert retrieved.returncode == 0, retrieved.stderr
    assert json.loads(retrieved.stdout)["id"] == result.partition(":")[0]
    assert json.loads(retrieved.stdout)["cancellation_reason"] == "automatic"
    listed = _run(["payment-intent", "list", "limit=100", "--db", "walk.sqlite3"], tmp_path)
    created = {result.partition(":")[0] for words, result in steps if words[1] == "create"}
    assert created <= {i["id"] for i in json.loads(listed.stdout)["data"]}
    # A second demo into the same store succeeds too: the first one's intents do not upset it.
    again = _run(["payment-intent", "demo", "--db", "walk.sqlite3"], tmp_path)
    assert again.returncode == 0, again.stdout


def test_demo_db_memory_is_the_throw_away_store_and_the_commands_name_no_store() -> None:
    demo = io.StringIO()
    assert main(["demo", "--db", "memory://"], demo) == 0
    assert all("--db" not in words for words, _ in _printed_steps(demo.getvalue()))


def test_a_reader_that_has_gone_ends_the_demo_quietly(tmp_path: Path) -> None:
    """As in ``payment-intent demo | head -1`` once head has its line: the pipe's reading end is
    closed before the demo writes, so its first write meets a reader that has gone."""
    reading, writing = os.pipe()
    os.close(reading)
    try:
        demo = subprocess.run(
            ["payment-intent", "demo"],
            cwd=tmp_path,
            env=_shell_env(),
            stdout=writing,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    finally:
        os.close(writing)
    assert demo.stderr == b""
    assert demo.returncode == BROKEN_PIPE


# -- commands by hand ----------------------------------------------------------------------------


def test_failures_exit_one_with_the_dialects_error_body(tmp_path: Path) -> None:
    casapay = _run(["payment-intent", "retrieve", "pi_missing", "--db", "memory://"], tmp_path)
    assert casapay.returncode == 1
    assert json.loads(casapay.stdout)["error"]["code"] == "resource_missing"
    payrex = _run(
        ["payment-intent", "create", "amount=10", "currency=PHP", "--dialect=payrex"], tmp_path
    )
    assert payrex.returncode == 1
    assert json.loads(payrex.stdout)["errors"][0]["code"] == "parameter_below_minimum"
    unknown = _run(["payment-intent", "create", "amount=5000", "colour=red"], tmp_path)
    assert unknown.returncode == 1
    assert json.loads(unknown.stdout)["error"]["message"] == "Received unknown parameter: colour"


def test_store_is_chosen_by_flag_or_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "elsewhere.sqlite3"
    assert (
        main(["create", "amount=5000", "currency=eur", "--db", str(db), "--at", "1706140800"]) == 0
    )
    created = json.loads(capsys.readouterr().out)
    assert created["created"] == 1706140800
    assert main(["retrieve", created["id"], "--db", f"sqlite:///{db}"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == created["id"]
    os.environ["PAYMENT_INTENT_STORE"] = f"sqlite:///{db}"
    try:
        assert main(["list", "limit=1"]) == 0
    finally:
        del os.environ["PAYMENT_INTENT_STORE"]
    assert [i["id"] for i in json.loads(capsys.readouterr().out)["data"]] == [created["id"]]


def test_expiry_by_hand_with_a_pinned_clock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--db", str(tmp_path / "hold.sqlite3")]
    args = [
        "create",
        "amount=5000",
        "currency=eur",
        "capture_method=manual",
        "payment_method=pm_card_visa",
        "confirm=true",
    ]
    assert main([*args, *db, "--at", "1000"]) == 0
    held = json.loads(capsys.readouterr().out)
    assert held["capture_before_at"] == 1000 + 7 * 24 * 3600
    assert main(["expire", *db, "--at", str(held["capture_before_at"] - 1)]) == 0
    assert json.loads(capsys.readouterr().out)["data"] == []
    assert main(["capture", held["id"], *db, "--at", str(held["capture_before_at"])]) == 1
    refused = json.loads(capsys.readouterr().out)["error"]
    assert refused["code"] == "payment_intent_unexpected_state"
    assert refused["payment_intent"]["cancellation_reason"] == "automatic"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_serve_runs_the_stand_in_provider_over_sqlite(tmp_path: Path) -> None:
    port = _free_port()
    env = {**_shell_env(), "PAYMENT_INTENT_API_KEYS": "sk_test_fromTheEnvironment1"}
    server = subprocess.Popen(
        [
            "payment-intent",
            "serve",
            "--dialect",
            "payrex",
            "--port",
            str(port),
            "--db",
            "served.sqlite3",
            "--api-key",
            "sk_test_fromTheCommandLine1",
            "--clock",
            "manual",
            "--at",
            "1706140800",
        ],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/payment_intents"
        auth = "Basic " + base64.b64encode(b"sk_test_fromTheEnvironment1:").decode()
        request = urllib.request.Request(
            url, data=b"amount=5000&currency=PHP", headers={"Authorization": auth}
        )
        for _ in range(100):  # wait for the server to listen, at most ten seconds
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    created = json.loads(response.read())
                break
            except urllib.error.URLError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start")
        assert created["created_at"] == 1706140800
        assert created["resource"] == "payment_intent"
        wrong = urllib.request.Request(url, headers={"Authorization": "Basic eDp5"})
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(wrong, timeout=5)
        assert denied.value.code == 401
        assert json.loads(denied.value.read())["errors"][0]["code"] == "authentication_invalid"
    finally:
        server.terminate()
        server.wait(timeout=10)
    listed = _run(
        ["payment-intent", "list", "--dialect", "payrex", "--db", "served.sqlite3"], tmp_path
    )
    assert [i["id"] for i in json.loads(listed.stdout)["data"]] == [created["id"]]


def test_events_print_the_feed_in_the_dialects_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--db", str(tmp_path / "events.sqlite3"), "--dialect", "payrex", "--at", "1706140800"]
    create = [
        "create",
        "amount=5000",
        "currency=PHP",
        "payment_method_options[card][capture_type]=manual",
    ]
    assert main([*create, *db]) == 0
    intent = json.loads(capsys.readouterr().out)
    assert main(["attach", intent["id"], "payment_method_id=pm_card_visa", *db]) == 0
    capsys.readouterr()
    assert main(["events", "limit=10", *db]) == 0
    feed = json.loads(capsys.readouterr().out)
    assert [e["type"] for e in feed["data"]] == [
        "payment_intent.created",
        "payment_intent.awaiting_capture",
    ]
    assert feed["data"][1]["previous_attributes"]["status"] == "awaiting_payment_method"
    assert main(["events", f"starting_after={feed['data'][0]['id']}", *db]) == 0
    assert len(json.loads(capsys.readouterr().out)["data"]) == 1


@pytest.mark.parametrize("timeout", ["0", "-1", "nan", "inf"])
def test_serve_refuses_an_idle_timeout_out_of_range(
    timeout: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = io.StringIO()
    args = ["serve", "--api-key", SEED_KEY, "--port", "0", "--db", "memory://"]
    assert main([*args, "--idle-timeout", timeout], out) == 2
    assert out.getvalue() == ""
    refused = capsys.readouterr().err
    assert refused.startswith("payment-intent serve: idle_timeout must be")
    assert refused.count("\n") == 1


@pytest.mark.parametrize(
    ("flag", "value", "setting"),
    [
        ("--request-timeout", "0", "request_timeout"),
        ("--request-timeout", "nan", "request_timeout"),
        ("--request-timeout", "inf", "request_timeout"),
        ("--max-connections", "0", "max_connections"),
        ("--max-connections", "-3", "max_connections"),
    ],
)
def test_serve_refuses_a_request_timeout_or_connection_cap_out_of_range(
    flag: str, value: str, setting: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = io.StringIO()
    args = ["serve", "--api-key", SEED_KEY, "--port", "0", "--db", "memory://", flag, value]
    assert main(args, out) == 2
    assert out.getvalue() == ""
    refused = capsys.readouterr().err
    assert refused.startswith(f"payment-intent serve: {setting} must be")
    assert refused.count("\n") == 1


def test_serve_caps_connections_and_times_requests_as_its_flags_say(tmp_path: Path) -> None:
    port = _free_port()
    command = ["serve", "--port", str(port), "--db", "memory://", "--api-key", SEED_KEY]
    flags = ["--max-connections", "1", "--request-timeout", "0.5"]
    server = subprocess.Popen(["payment-intent", *command, *flags], cwd=tmp_path, env=_shell_env())
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):  # wait for the server to listen, at most ten seconds
            try:
                held = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except ConnectionRefusedError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start")
        with held:
            reader = held.makefile("rb")
            held.sendall(raw_request("GET", "/v1/payment_intents"))
            assert read_response(reader)[0] == 200
            with connected(url) as second:  # one connection is the cap
                second.sendall(raw_request("GET", "/v1/payment_intents"))
                assert read_response(second.makefile("rb"))[0] == 503
            held.sendall(b"GET /v1/payment_intents HTTP/1.1\r\n")  # and never the rest
            assert read_response(reader)[0] == 408
    finally:
        server.terminate()
        server.wait(timeout=10)
