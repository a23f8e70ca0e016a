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
from tests.wire.conftest import (
    AUTH,
    FORM,
    SEED_TIME,
    connected,
    make_api,
    raw_request,
    read_response,
    serving,
)


def _api() -> Api:
    return make_api("casapay", InMemoryStore(), ManualClock(SEED_TIME))


# -- numbers are ASCII digits --------------------------------------------------------------------


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
