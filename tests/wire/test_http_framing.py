"""How the server frames requests, and what it does with clients that frame them badly or slowly.

RFC 9112's grammar is followed exactly where a request's length is decided (``Content-Length =
1*DIGIT``, ``chunk-size = 1*HEXDIG``, transfer codings are tokens, only SP and HTAB surround a
field value), numbers are ASCII digits wherever the wire carries them, a declared body over the
limit is refused from its header, and slow clients can neither hold a thread forever nor keep a
connected client waiting.

Every test here reads with a socket timeout (10 seconds unless stated): a server that waits
instead of answering fails the test by that timeout, never hangs it.
"""

from __future__ import annotations

import json

import pytest

from payment_intent import InMemoryStore, ManualClock
from payment_intent.dialects import Api
from payment_intent.dialects.api import MAX_BODY
from tests.wire.conftest import (
    AUTH,
    FORM,
    SEED_TIME,
    assert_closed,
    connected,
    make_api,
    raw_request,
    read_response,
    serving,
)

#: A form body of 24 (0x18) bytes: what the chunked tests send in one chunk.
CREATE = b"amount=1000&currency=eur"
assert len(CREATE) == 0x18


def _api() -> Api:
    return make_api("casapay", InMemoryStore(), ManualClock(SEED_TIME))


def _post_head(*fields: bytes, version: bytes = b"HTTP/1.1") -> bytes:
    """The head of a create request with ``fields`` added (raw bytes: any octet can be sent)."""
    lines = [b"POST /v1/payment_intents " + version, *(AUTH + FORM).encode().split(b"\r\n")[:-1]]
    return b"\r\n".join([*lines, *fields, b"", b""])


def _refused_and_closed(url: str, request: bytes, status: int = 400) -> dict[str, str]:
    """Send ``request`` on a fresh connection; it must get ``status`` and then be closed, and the
    server must go on serving others. Returns the refusal's headers."""
    with connected(url) as sock:
        sock.sendall(request)
        answer, headers, _ = read_response(sock.makefile("rb"))
        assert answer == status
        assert headers["connection"] == "close"
        assert_closed(sock)
    with connected(url) as sock:
        sock.sendall(raw_request("GET", "/v1/payment_intents"))
        assert read_response(sock.makefile("rb"))[0] == 200
    return headers


def _created(url: str, request: bytes) -> int:
    """Send a create request on a fresh connection; the intent's amount (it must succeed)."""
    with connected(url) as sock:
        sock.sendall(request)
        answer, _, body = read_response(sock.makefile("rb"))
        assert answer == 200, body
        amount: int = json.loads(body)["amount"]
        return amount


# -- a body over the limit is refused from its header --------------------------------------------


@pytest.mark.parametrize("expect", [b"", b"Expect: 100-continue"], ids=["plain", "expect"])
@pytest.mark.parametrize(
    "length",
    [MAX_BODY + 1, 10**18, int("9" * 40)],
    ids=["just-over", "10^18", "40-digits"],
)
def test_a_declared_body_over_the_limit_gets_413_from_the_header_alone(
    length: int, expect: bytes
) -> None:
    # No body follows: a server that waits for it (or invites it with 100 Continue) fails here.
    head = _post_head(f"Content-Length: {length}".encode(), *([expect] if expect else []))
    with serving(_api()) as url:
        _refused_and_closed(url, head, 413)


def test_a_client_that_sends_the_oversized_body_anyway_still_reads_its_413() -> None:
    # The server never reads the body; it drains what arrives before closing, so its close does
    # not reset the connection under the client's unread 413.
    body = b"a" * (MAX_BODY + 10)
    with serving(_api()) as url:
        _refused_and_closed(url, _post_head(f"Content-Length: {len(body)}".encode()) + body, 413)


@pytest.mark.parametrize(
    "chunks",
    [
        b"100000000000000000000\r\n",  # 2**80
        f"{MAX_BODY + 1:x}\r\n".encode(),
        f"{MAX_BODY - 4:x}\r\n".encode() + b"a" * (MAX_BODY - 4) + b"\r\n5\r\n",
    ],
    ids=["2^80", "just-over", "adding-up-to-over"],
)
def test_a_chunk_that_takes_the_body_over_the_limit_gets_413_from_its_size_line(
    chunks: bytes,
) -> None:
    head = _post_head(b"Transfer-Encoding: chunked")
    with serving(_api()) as url:
        _refused_and_closed(url, head + chunks, 413)


# -- numbers are ASCII digits --------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(b"\xb2", id="superscript-2"),
        pytest.param(b"\xb9\xb2", id="superscripts"),
        pytest.param(b"1\xb2", id="1-superscript-2"),
        pytest.param(b"+5", id="plus"),
        pytest.param(b"5_0", id="underscore"),
        pytest.param(b"0x5", id="hex"),
        pytest.param(b"5\x0b", id="vertical-tab"),
        pytest.param(b"\x0c5", id="form-feed"),
        pytest.param(b"5\xa0", id="no-break-space"),
        pytest.param(b"5, 5", id="list"),
        pytest.param(b"", id="empty"),
    ],
)
def test_a_content_length_that_is_not_ascii_digits_gets_400(value: bytes) -> None:
    # Header fields are read as latin-1, where '²' and '¹' are digits to str.isdigit.
    with serving(_api()) as url:
        _refused_and_closed(url, _post_head(b"Content-Length: " + value) + b"12345")


def test_a_content_length_with_leading_zeros_and_spaces_around_it_is_read() -> None:
    head = _post_head(b"Content-Length: \t00024 ")
    with serving(_api()) as url:
        assert _created(url, head + CREATE) == 1000


@pytest.mark.parametrize(
    ("form", "param"),
    [
        ("amount=%D9%A5%D9%A0%D9%A0%D9%A0&currency=eur", "amount"),  # Arabic-Indic 5000
        ("amount=%EF%BC%95%EF%BC%90%EF%BC%90%EF%BC%90&currency=eur", "amount"),  # full-width
        ("amount=5000&currency=eur&payment_method_types[%C2%B2]=card", "payment_method_types"),
        ("amount=5000&currency=eur&payment_method_types[%D9%A0]=card", "payment_method_types"),
        (
            "amount=5000&currency=eur&payment_method_options[card][allowed_bins][0]="
            + "%D9%A4%D9%A2%D9%A4%D9%A2%D9%A4%D9%A2",  # Arabic-Indic 424242
            "payment_method_options[card][allowed_bins][0]",
        ),
    ],
    ids=[
        "arabic-indic-amount",
        "full-width-amount",
        "superscript-index",
        "arabic-indic-index",
        "arabic-indic-bin",
    ],
)
def test_form_numbers_and_list_positions_are_ascii_digits_or_refused_naming_the_parameter(
    form: str, param: str
) -> None:
    with serving(_api()) as url, connected(url) as sock:
        sock.sendall(raw_request("POST", "/v1/payment_intents", AUTH + FORM, form.encode()))
        status, _, body = read_response(sock.makefile("rb"))
        assert status == 400, body
        assert json.loads(body)["error"]["param"] == param


def test_an_event_cursor_with_other_digits_is_not_an_event() -> None:
    with serving(_api()) as url, connected(url) as sock:
        sock.sendall(raw_request("GET", "/v1/events?starting_after=evt_pi_x_%C2%B2_0"))
        status, _, body = read_response(sock.makefile("rb"))
        assert 400 <= status < 500, body


# -- chunked bodies follow RFC 9112's grammar exactly --------------------------------------------


def _chunked(size_line: bytes, tail: bytes = b"0\r\n\r\n") -> bytes:
    """A create request whose body is one chunk of :data:`CREATE` under ``size_line``."""
    return _post_head(b"Transfer-Encoding: chunked") + size_line + CREATE + b"\r\n" + tail


@pytest.mark.parametrize(
    "size_line",
    [
        pytest.param(b"0x18\r\n", id="0x"),
        pytest.param(b"+18\r\n", id="plus"),
        pytest.param(b"1_8\r\n", id="underscore"),
        pytest.param(b" 18\r\n", id="space-before"),
        pytest.param(b"18 \r\n", id="space-after"),
        pytest.param(b"18\t\r\n", id="tab-after"),
        pytest.param(b"-18\r\n", id="minus"),
        pytest.param(b"\r\n", id="empty"),
        pytest.param(b"18\n", id="bare-lf"),
        pytest.param(b"18\r\r\n", id="double-cr"),
        pytest.param(b"18;\r\n", id="empty-extension"),
        pytest.param(b"18;=x\r\n", id="extension-without-name"),
        pytest.param(b"18;a=\r\n", id="extension-without-value"),
        pytest.param(b"18;a b\r\n", id="extension-with-space"),
        pytest.param(b'18;a="open\r\n', id="unterminated-quote"),
        pytest.param(b"18;a=\xb2\r\n", id="extension-not-a-token"),
        pytest.param(b"\xb9\xb8\r\n", id="superscripts"),
    ],
)
def test_a_chunk_size_line_outside_rfc_9112s_grammar_gets_400(size_line: bytes) -> None:
    with serving(_api()) as url:
        _refused_and_closed(url, _chunked(size_line))


@pytest.mark.parametrize(
    ("after_data", "tail"),
    [
        pytest.param(b"XX", b"0\r\n\r\n", id="data-overruns"),
        pytest.param(b"\n", b"0\r\n\r\n", id="bare-lf-after-data"),
        pytest.param(b"\r\n", b"0\n\r\n", id="bare-lf-last-chunk"),
        pytest.param(b"\r\n", b"0\r\nbad trailer\r\n\r\n", id="malformed-trailer"),
        pytest.param(b"\r\n", b"0\r\n\n", id="bare-lf-ending"),
    ],
)
def test_chunk_data_and_the_last_chunk_are_framed_by_crlf_exactly(
    after_data: bytes, tail: bytes
) -> None:
    request = _post_head(b"Transfer-Encoding: chunked") + b"18\r\n" + CREATE + after_data + tail
    with serving(_api()) as url:
        _refused_and_closed(url, request)


@pytest.mark.parametrize(
    ("size_line", "tail"),
    [
        (b"18\r\n", b"0\r\n\r\n"),
        (b"0018\r\n", b"000\r\n\r\n"),
        (b"18;name\r\n", b"0;last=yes\r\n\r\n"),
        (b'18 ; a = 1 ;\tb="quoted \\" \xe9"\r\n', b"0\r\n\r\n"),
        (b"18\r\n", b"0\r\nX-Checksum: abc\r\nX-Other:\r\n\r\n"),
    ],
    ids=["plain", "leading-zeros", "extensions", "spaced-and-quoted-extensions", "trailers"],
)
def test_chunk_sizes_extensions_and_trailers_that_rfc_9112_allows_are_read(
    size_line: bytes, tail: bytes
) -> None:
    with serving(_api()) as url:
        assert _created(url, _chunked(size_line, tail)) == 1000


@pytest.mark.parametrize(
    "coding",
    [
        pytest.param(b"chunked\xa0", id="no-break-space"),
        pytest.param(b"chunked\x0b", id="vertical-tab"),
        pytest.param(b"chunked\x0c", id="form-feed"),
        pytest.param(b"chunked\x1f", id="unit-separator"),
        pytest.param(b"chunked\x85", id="next-line"),
        pytest.param(b"\x0bchunked", id="leading-vertical-tab"),
        pytest.param(b"chunked;", id="empty-parameter"),
        pytest.param(b"chunked;q", id="parameter-without-value"),
        pytest.param(b"chunk ed", id="space-inside"),
    ],
)
def test_a_transfer_coding_that_is_not_a_token_gets_400(coding: bytes) -> None:
    request = _post_head(b"Transfer-Encoding: " + coding) + b"18\r\n" + CREATE + b"\r\n0\r\n\r\n"
    with serving(_api()) as url:
        _refused_and_closed(url, request)


@pytest.mark.parametrize(
    ("codings", "status"),
    [
        pytest.param(b"gzip", 400, id="not-chunked"),
        pytest.param(b"chunked, gzip", 400, id="chunked-not-last"),
        pytest.param(b"chunked, chunked", 400, id="chunked-twice"),
        pytest.param(b"chunked;a=1", 400, id="chunked-with-parameter"),
        pytest.param(b"gzip, chunked", 501, id="unknown-coding-before-chunked"),
        pytest.param(b"", 400, id="empty"),
    ],
)
def test_a_body_not_framed_by_a_final_chunked_gets_400_and_an_unknown_coding_501(
    codings: bytes, status: int
) -> None:
    # RFC 9112 6.3: unless chunked is the last coding, where the body ends is unknowable (400);
    # with chunked last, the body can be read but not decoded (6.1: 501).
    request = _post_head(b"Transfer-Encoding: " + codings) + b"18\r\n" + CREATE + b"\r\n0\r\n\r\n"
    with serving(_api()) as url:
        _refused_and_closed(url, request, status)


@pytest.mark.parametrize(
    "codings",
    [b"CHUNKED", b"chunked, ", b" ,chunked\t"],
    ids=["upper-case", "empty-elements", "ows"],
)
def test_transfer_coding_names_are_case_insensitive_and_empty_list_elements_ignored(
    codings: bytes,
) -> None:
    request = _post_head(b"Transfer-Encoding: " + codings) + b"18\r\n" + CREATE + b"\r\n0\r\n\r\n"
    with serving(_api()) as url:
        assert _created(url, request) == 1000


def test_an_http_1_0_request_with_a_transfer_encoding_gets_400() -> None:
    # RFC 9112 6.1: HTTP/1.0 has no transfer codings, so such framing is faulty.
    request = _post_head(b"Transfer-Encoding: chunked", version=b"HTTP/1.0")
    with serving(_api()) as url:
        _refused_and_closed(url, request + b"18\r\n" + CREATE + b"\r\n0\r\n\r\n")


@pytest.mark.parametrize(
    "field",
    [
        pytest.param(b"X-Note: a\rb", id="cr-in-value"),
        pytest.param(b"X-Note: a\x00b", id="nul-in-value"),
        pytest.param(b"X-N\x0bote: a", id="vertical-tab-in-name"),
        pytest.param(b"X(Note): a", id="parenthesis-in-name"),
        pytest.param(b"X-Note : a", id="space-before-colon"),
        pytest.param(b"\xb2: a", id="latin-1-name"),
        pytest.param(b": a", id="empty-name"),
    ],
)
def test_a_field_line_outside_rfc_9110s_grammar_gets_400(field: bytes) -> None:
    with serving(_api()) as url:
        _refused_and_closed(url, _post_head(field, b"Content-Length: 24") + CREATE)
