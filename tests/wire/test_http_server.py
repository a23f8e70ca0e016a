"""The HTTP/1.1 server: persistent connections, framing, limits, and the WSGI app underneath."""

from __future__ import annotations

import http.client
import io
import json
import socket
import threading
from typing import Any
from urllib.parse import urlsplit
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import validator

import pytest

from payment_intent import InMemoryStore, ManualClock
from payment_intent.dialects import Api
from payment_intent.server import MAX_HEADER_BYTES, make_app, make_server
from tests.wire.conftest import (
    AUTH,
    FORM,
    SEED_KEY,
    SEED_TIME,
    assert_closed,
    bearer,
    connected,
    make_api,
    raw_request,
    read_response,
    serving,
)


def _api(origin: str | None = None) -> Api:
    return make_api("casapay", InMemoryStore(), ManualClock(SEED_TIME), origin=origin)


def test_a_checkout_runs_on_one_connection_through_errors_and_a_redirect() -> None:
    with serving(_api) as url:
        connection = http.client.HTTPConnection(urlsplit(url).netloc, timeout=10)
        headers = {**bearer(), "Content-Type": "application/x-www-form-urlencoded"}

        def send(method: str, path: str, body: str = "", **extra: str) -> tuple[int, Any]:
            connection.request(method, path, body or None, {**headers, **extra})
            response = connection.getresponse()
            content = response.read()
            assert not response.will_close
            return response.status, response, content

        connection.connect()
        local_end = connection.sock.getsockname()
        status, _, content = send("POST", "/v1/payment_intents", "amount=2000&currency=eur")
        assert status == 200
        intent = json.loads(content)
        assert send("GET", "/v1/nowhere")[0] == 404
        assert (
            send("GET", "/v1/payment_intents", Authorization="Bearer sk_test_wrongwrong")[0] == 401
        )
        status, _, content = send(
            "POST",
            f"/v1/payment_intents/{intent['id']}/confirm",
            "payment_method=pm_card_threeDSecure2Required&return_url=https://shop.test/done",
        )
        assert json.loads(content)["status"] == "requires_action"
        page = urlsplit(json.loads(content)["next_action"]["redirect_to_url"]["url"]).path
        status, response, _ = send("POST", page, "succeed=true")
        assert status == 303
        assert urlsplit(response.getheader("Location")).netloc == "shop.test"
        status, _, content = send("GET", f"/v1/payment_intents/{intent['id']}")
        assert json.loads(content)["status"] == "succeeded"
        assert connection.sock is not None
        assert connection.sock.getsockname() == local_end  # never reconnected
        connection.close()


def test_pipelined_requests_are_answered_in_order() -> None:
    with serving(_api()) as url, connected(url) as sock:
        create = b"amount=1000&currency=eur"
        sock.sendall(
            raw_request("POST", "/v1/payment_intents", AUTH + FORM, create)
            + raw_request("GET", "/v1/nowhere")
            + raw_request("GET", "/v1/payment_intents?limit=1")
        )
        reader = sock.makefile("rb")
        first, second, third = (read_response(reader) for _ in range(3))
        assert first[0] == 200
        assert second[0] == 404
        assert third[0] == 200
        assert json.loads(third[2])["data"][0]["id"] == json.loads(first[2])["id"]


def test_connection_close_is_honoured() -> None:
    with serving(_api()) as url, connected(url) as sock:
        sock.sendall(raw_request("GET", "/v1/payment_intents", AUTH + "Connection: close\r\n"))
        status, headers, _ = read_response(sock.makefile("rb"))
        assert status == 200
        assert headers["connection"] == "close"
        assert_closed(sock)


def test_http_1_0_clients_get_one_response_per_connection_unless_they_keep_alive() -> None:
    with serving(_api()) as url:
        with connected(url) as sock:
            sock.sendall(f"GET /v1/payment_intents HTTP/1.0\r\n{AUTH}\r\n".encode())
            status, headers, body = read_response(sock.makefile("rb"))
            assert status == 200
            assert json.loads(body)["object"] == "list"
            assert headers["connection"] == "close"
            assert_closed(sock)
        with connected(url) as sock:
            request = f"GET /v1/payment_intents HTTP/1.0\r\nConnection: keep-alive\r\n{AUTH}\r\n"
            sock.sendall(request.encode() * 2)
            reader = sock.makefile("rb")
            for _ in range(2):
                status, headers, _ = read_response(reader)
                assert status == 200
                assert headers["connection"] == "keep-alive"


@pytest.mark.parametrize(
    "request_line",
    [
        b"GARBAGE\r\n",
        b"GET /v1/payment_intents\r\n",
        b"GET nowhere HTTP/1.1\r\n",
        b"get / HTTP/1.1\r\n",
    ],
)
def test_a_malformed_request_line_gets_400_and_the_server_keeps_serving(
    request_line: bytes,
) -> None:
    with serving(_api()) as url:
        with connected(url) as sock:
            sock.sendall(request_line + b"Host: test\r\n\r\n")
            status, headers, _ = read_response(sock.makefile("rb"))
            assert status == 400
            assert headers["connection"] == "close"
            assert_closed(sock)
        with connected(url) as sock:
            sock.sendall(raw_request("GET", "/v1/payment_intents"))
            assert read_response(sock.makefile("rb"))[0] == 200


@pytest.mark.parametrize(
    "headers",
    [
        f"X-Padding: {'a' * MAX_HEADER_BYTES}\r\n",
        "".join(f"X-Many-{n}: {'a' * 900}\r\n" for n in range(MAX_HEADER_BYTES // 900 + 1)),
        "".join(f"X-Count-{n}: a\r\n" for n in range(101)),
        "Bad Header: x\r\n",
        " folded\r\n",
        "Content-Length: 3\r\nContent-Length: 4\r\n",
        "Content-Length: -1\r\n",
        "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n",
    ],
    ids=[
        "one-huge",
        "many-large",
        "too-many",
        "space-in-name",
        "folded",
        "two-lengths",
        "negative-length",
        "length-and-chunked",
    ],
)
def test_unframeable_or_oversized_headers_get_400_and_the_server_keeps_serving(
    headers: str,
) -> None:
    with serving(_api()) as url:
        with connected(url) as sock:
            sock.sendall(f"GET /v1/payment_intents HTTP/1.1\r\n{AUTH}{headers}\r\n".encode())
            status, response_headers, _ = read_response(sock.makefile("rb"))
            assert status == 400
            assert response_headers["connection"] == "close"
        with connected(url) as sock:
            sock.sendall(raw_request("GET", "/v1/payment_intents"))
            assert read_response(sock.makefile("rb"))[0] == 200


def test_an_http_1_1_request_without_host_gets_400() -> None:
    with serving(_api()) as url, connected(url) as sock:
        sock.sendall(
            f"GET /v1/payment_intents HTTP/1.1\r\nAuthorization: Bearer {SEED_KEY}\r\n\r\n".encode()
        )
        assert read_response(sock.makefile("rb"))[0] == 400


def test_an_idle_connection_is_closed_after_the_timeout() -> None:
    with serving(_api(), idle_timeout=0.2) as url:
        with connected(url) as sock:
            assert_closed(sock)  # no request at all
        with connected(url) as sock:
            sock.sendall(raw_request("GET", "/v1/payment_intents"))
            assert read_response(sock.makefile("rb"))[0] == 200
            assert_closed(sock)  # idle after a response
        with connected(url) as sock:
            sock.sendall(b"GET /v1/payment_intents HTTP/1.1\r\nHost: te")  # stalls mid-header
            assert sock.recv(65536) == b""  # closed, nothing answered


def test_chunked_bodies_and_expect_continue_are_read() -> None:
    with serving(_api()) as url, connected(url) as sock:
        reader = sock.makefile("rb")
        chunked = b"a\r\namount=100\r\ne\r\n0&currency=eur\r\n0\r\n\r\n"
        head = (
            f"POST /v1/payment_intents HTTP/1.1\r\n{AUTH}{FORM}Transfer-Encoding: chunked\r\n\r\n"
        )
        sock.sendall(head.encode() + chunked)
        status, _, body = read_response(reader)
        assert status == 200
        assert json.loads(body)["amount"] == 1000

        body_bytes = b"amount=1500&currency=eur"
        head = (
            f"POST /v1/payment_intents HTTP/1.1\r\n{AUTH}{FORM}Expect: 100-continue\r\n"
            f"Content-Length: {len(body_bytes)}\r\n\r\n"
        )
        sock.sendall(head.encode())
        assert reader.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert reader.readline() == b"\r\n"
        sock.sendall(body_bytes)
        status, _, body = read_response(reader)
        assert status == 200
        assert json.loads(body)["amount"] == 1500

        coded = "Transfer-Encoding: gzip, chunked\r\n"
        sock.sendall(f"POST /v1/payment_intents HTTP/1.1\r\n{AUTH}{coded}\r\n".encode())
        assert read_response(reader)[0] == 501  # framed, but in a coding the server lacks


def test_closing_the_server_ends_its_open_connections() -> None:
    server = make_server(_api(), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    host, port = server.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=10) as sock:
        sock.sendall(raw_request("GET", "/v1/payment_intents"))
        assert read_response(sock.makefile("rb"))[0] == 200
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        assert_closed(sock)


def test_bad_idle_timeouts_are_refused_naming_the_parameter() -> None:
    with pytest.raises(ValueError, match="idle_timeout"):
        make_server(_api(), "127.0.0.1", 0, idle_timeout=0)


def test_make_app_is_a_valid_pep_3333_application() -> None:
    app = validator(make_app(_api()))
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    environ.update(
        REQUEST_METHOD="POST",
        PATH_INFO="/v1/payment_intents",
        QUERY_STRING="",
        CONTENT_TYPE="application/x-www-form-urlencoded",
        CONTENT_LENGTH="24",
        HTTP_AUTHORIZATION=f"Bearer {SEED_KEY}",
    )
    environ["wsgi.input"] = io.BytesIO(b"amount=1000&currency=eur")
    started: list[str] = []
    result = app(environ, lambda status, headers, exc_info=None: started.append(status))
    try:
        body = b"".join(result)
    finally:
        result.close()  # type: ignore[attr-defined]
    assert started == ["200 OK"]
    assert json.loads(body)["amount"] == 1000
