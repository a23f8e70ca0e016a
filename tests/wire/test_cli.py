"""The main job: ``payment-intent demo``, then the same steps by hand, each in its own process."""

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

from payment_intent.cli import main
from tests.wire.conftest import SEED_KEY, connected, raw_request, read_response

BIN = Path(sys.executable).parent
SCRIPT = BIN / "payment-intent"


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_INTENT_")}
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _cli(cwd: Path) -> list[str]:
    """The installed console script, as a user runs it."""
    assert SCRIPT.exists(), "install the project (pip install -e .) to get payment-intent"
    return [str(SCRIPT)]


def _demo_steps(output: str) -> list[tuple[str, str]]:
    """(command line, the demo's result line) for every step the demo printed."""
    lines = output.splitlines()
    return [
        (line[2:], lines[i + 1].strip())
        for i, line in enumerate(lines)
        if line.startswith("$ payment-intent ")
    ]


def _status_of(body: dict[str, Any]) -> str:
    if "error" in body:
        return str(body["error"]["payment_intent"]["status"])
    return str(body["status"])


@pytest.mark.parametrize("dialect", ["casapay", "payrex"])
def test_the_demo_then_the_same_steps_by_hand(dialect: str, tmp_path: Path) -> None:
    demo = _run([*_cli(tmp_path), "demo", "--dialect", dialect], tmp_path)
    assert demo.returncode == 0, demo.stderr
    steps = _demo_steps(demo.stdout)
    assert len(steps) >= 10
    ids: dict[str, str] = {}
    for command, result in steps:
        words = shlex.split(command)[1:]
        words = [ids.get(word, word) for word in words]
        done = _run([*_cli(tmp_path), *words, "--dialect", dialect], tmp_path)
        body = json.loads(done.stdout)
        if words[0] == "expire":
            count = int(re.search(r"(\d+) hold", result).group(1))  # type: ignore[union-attr]
            assert len(body["data"]) == count
            continue
        demo_id, _, transition = result.partition(": ")
        expected = transition.split(" → ")[1].split()[0]
        assert _status_of(body) == expected, (command, body)
        declined = "[" in transition
        assert done.returncode == (1 if declined else 0), (command, done.stdout)
        own_id = body["error"]["payment_intent"]["id"] if "error" in body else body["id"]
        ids.setdefault(demo_id, own_id)
    # Everything by hand went to the default database in the working directory.
    assert (tmp_path / "payment_intents.sqlite3").exists()


def test_python_dash_m_without_arguments_runs_the_demo(tmp_path: Path) -> None:
    done = _run([sys.executable, "-m", "payment_intent"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "$ payment-intent create" in done.stdout
    assert "→ succeeded" in done.stdout
    # The demo runs over a throw-away store.
    assert not (tmp_path / "payment_intents.sqlite3").exists()


def test_failures_exit_non_zero_with_the_dialects_error_body(tmp_path: Path) -> None:
    casapay = _run([*_cli(tmp_path), "retrieve", "pi_missing"], tmp_path)
    assert casapay.returncode == 1
    assert json.loads(casapay.stdout)["error"]["code"] == "resource_missing"
    payrex = _run(
        [*_cli(tmp_path), "create", "amount=10", "currency=PHP", "--dialect=payrex"], tmp_path
    )
    assert payrex.returncode == 1
    assert json.loads(payrex.stdout)["errors"][0]["code"] == "parameter_below_minimum"
    bad = _run([*_cli(tmp_path), "create", "amount"], tmp_path)
    assert bad.returncode == 1
    assert "NAME=VALUE" in json.loads(bad.stdout)["error"]["message"]


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
    env = {**os.environ, "PAYMENT_INTENT_API_KEYS": "sk_test_fromTheEnvironment1"}
    server = subprocess.Popen(
        [
            *_cli(tmp_path),
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
        [*_cli(tmp_path), "list", "--dialect", "payrex", "--db", "served.sqlite3"], tmp_path
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
def test_serve_refuses_an_idle_timeout_out_of_range(timeout: str) -> None:
    out = io.StringIO()
    status = main(
        [
            "serve",
            "--api-key",
            "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
            "--port",
            "0",
            "--db",
            "memory://",
            "--idle-timeout",
            timeout,
        ],
        out,
    )
    assert status == 1
    assert "idle_timeout" in json.loads(out.getvalue())["error"]["message"]


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
    flag: str, value: str, setting: str
) -> None:
    out = io.StringIO()
    args = ["serve", "--api-key", SEED_KEY, "--port", "0", "--db", "memory://", flag, value]
    assert main(args, out) == 1
    assert setting in json.loads(out.getvalue())["error"]["message"]


def test_serve_caps_connections_and_times_requests_as_its_flags_say(tmp_path: Path) -> None:
    port = _free_port()
    command = ["serve", "--port", str(port), "--db", "memory://", "--api-key", SEED_KEY]
    flags = ["--max-connections", "1", "--request-timeout", "0.5"]
    server = subprocess.Popen([*_cli(tmp_path), *command, *flags], cwd=tmp_path)
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
