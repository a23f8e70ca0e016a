"""The public signing helpers: what they sign, the SDKs verify, and what they verify, the
providers would have sent."""

from __future__ import annotations

import json
import time

import payrex
import pytest
import stripe

from payment_intent.webhooks import (
    SignatureVerificationError,
    generate_test_header,
    sign,
    verify,
)

PAYLOAD = json.dumps({"id": "evt_1", "object": "event", "type": "payment_intent.succeeded"})
SECRET = "whsec_test_secret"


def test_generate_test_header_is_accepted_by_stripes_construct_event() -> None:
    header = generate_test_header(PAYLOAD, SECRET)
    event = stripe.Webhook.construct_event(PAYLOAD, header, SECRET)
    assert event.id == "evt_1"
    assert event.type == "payment_intent.succeeded"


def test_generate_test_header_matches_stripes_own_generator_byte_for_byte() -> None:
    ours = generate_test_header(PAYLOAD, SECRET, timestamp=1706140800)
    theirs = stripe.WebhookSignature.generate_signature_header(PAYLOAD, SECRET, 1706140800)
    assert ours == theirs


def test_an_old_timestamp_is_refused_by_stripe_and_by_verify() -> None:
    old = generate_test_header(PAYLOAD, SECRET, timestamp=int(time.time()) - 301)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(PAYLOAD, old, SECRET)
    with pytest.raises(SignatureVerificationError, match="tolerance"):
        verify(PAYLOAD, old, SECRET)
    assert verify(PAYLOAD, old, SECRET, tolerance=None) == int(old.split(",")[0][2:])


@pytest.mark.parametrize("livemode", [False, True])
def test_a_payrex_signature_is_accepted_by_payrex_pythons_parse_event(livemode: bool) -> None:
    header = sign(PAYLOAD, "whsk_secret", scheme="payrex", livemode=livemode)
    assert (",te=," in header) is livemode
    assert header.endswith(",li=") is not livemode
    event = payrex.Client("sk_test_12345678").webhooks.parse_event(PAYLOAD, header, "whsk_secret")
    assert event.id == "evt_1"
    assert verify(PAYLOAD, header, "whsk_secret", scheme="payrex") > 0


def test_payrex_python_refuses_a_foreign_secret() -> None:
    header = sign(PAYLOAD, "whsk_secret", scheme="payrex")
    with pytest.raises(payrex.SignatureInvalidException):
        payrex.Client("sk_test_12345678").webhooks.parse_event(PAYLOAD, header, "whsk_other")


def test_verify_accepts_bytes_and_text_alike_and_any_one_matching_signature() -> None:
    header = sign(PAYLOAD.encode(), SECRET, timestamp=int(time.time()))
    rolled = header.replace("v1=", "v1=" + "0" * 64 + ",v1=")  # an old secret's signature first
    assert verify(PAYLOAD, rolled, SECRET) == verify(PAYLOAD.encode(), header, SECRET)


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (None, "No Stripe-Signature"),
        ("", "No Stripe-Signature"),
        ("garbage", "Unable to read"),
        ("v1=abc", "no timestamp"),
        ("t=123", "no signature"),
        ("t=now,v1=abc", "no timestamp"),
    ],
)
def test_a_malformed_header_is_refused_saying_why(header: str | None, why: str) -> None:
    with pytest.raises(SignatureVerificationError, match=why):
        verify(PAYLOAD, header, SECRET)


def test_a_changed_payload_does_not_verify() -> None:
    header = sign(PAYLOAD, SECRET)
    with pytest.raises(SignatureVerificationError, match="No signature matches"):
        verify(PAYLOAD.replace("succeeded", "canceled"), header, SECRET)


def test_signing_refuses_what_cannot_be_signed() -> None:
    with pytest.raises(ValueError, match="secret"):
        sign(PAYLOAD, "")
    with pytest.raises(ValueError, match="timestamp"):
        sign(PAYLOAD, SECRET, timestamp=-1)
    with pytest.raises(ValueError, match="scheme"):
        sign(PAYLOAD, SECRET, scheme="paypal")  # type: ignore[arg-type]
