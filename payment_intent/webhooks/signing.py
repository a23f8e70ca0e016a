"""Signing and verifying webhook payloads as both providers do.

CasaPay signs as Stripe: ``Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "t.body")>``,
which ``stripe.Webhook.construct_event`` verifies (by default it refuses a timestamp more than five
minutes old). PayRex signs with ``Payrex-Signature: t=<unix time>,te=<hex>,li=<hex>``: the same
HMAC in ``te`` for a test-mode event and in ``li`` for a live one, the other left empty, which
``payrex-python``'s ``webhooks.parse_event`` verifies.

The timestamp is always wall-clock time (:func:`time.time`), never the domain clock: a server whose
clock is manual still signs with the real time, so the SDKs' tolerance checks accept its webhooks.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Literal

#: The header each scheme sends.
CASAPAY_HEADER = "Stripe-Signature"
PAYREX_HEADER = "Payrex-Signature"
HEADERS: dict[str, str] = {"casapay": CASAPAY_HEADER, "payrex": PAYREX_HEADER}

#: How old a signature's timestamp may be, in seconds, as stripe-python's default.
DEFAULT_TOLERANCE = 300

Scheme = Literal["casapay", "payrex"]


class SignatureVerificationError(ValueError):
    """A payload whose signature header is missing, malformed, wrong or too old."""

    def __init__(self, message: str, header: str | None = None) -> None:
        super().__init__(message)
        self.header = header


def _text(payload: bytes | str) -> str:
    # Both SDKs sign and verify the body as text: "t.<body>" encoded as UTF-8.
    return payload.decode("utf-8") if isinstance(payload, bytes | bytearray) else payload


def _digest(secret: str, timestamp: int, payload: bytes | str) -> str:
    signed = f"{timestamp}.{_text(payload)}".encode()
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def _timestamp(timestamp: int | None) -> int:
    if timestamp is None:
        return int(time.time())
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise ValueError("timestamp must be a whole number of seconds since the epoch.")
    return timestamp


def sign(
    payload: bytes | str,
    secret: str,
    *,
    scheme: Scheme = "casapay",
    timestamp: int | None = None,
    livemode: bool = False,
) -> str:
    """The signature header's value for ``payload`` (the exact bytes sent) under ``secret``.

    ``timestamp`` defaults to now (wall-clock). ``livemode`` chooses PayRex's ``li`` field over
    ``te``; CasaPay's header is the same in both modes.
    """
    if not isinstance(secret, str) or not secret:
        raise ValueError("secret must be the endpoint's non-empty signing secret.")
    moment = _timestamp(timestamp)
    digest = _digest(secret, moment, payload)
    if scheme == "casapay":
        return f"t={moment},v1={digest}"
    if scheme == "payrex":
        return f"t={moment},te=,li={digest}" if livemode else f"t={moment},te={digest},li="
    raise ValueError(f"Unknown signature scheme {scheme!r}; expected casapay or payrex.")


def generate_test_header(payload: bytes | str, secret: str, timestamp: int | None = None) -> str:
    """A valid ``Stripe-Signature`` value for ``payload``: what a unit test of a webhook handler
    sends to it (with ``timestamp`` in the past, what an expired signature looks like)."""
    return sign(payload, secret, scheme="casapay", timestamp=timestamp)


def verify(
    payload: bytes | str,
    header: str | None,
    secret: str,
    *,
    scheme: Scheme = "casapay",
    tolerance: int | None = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> int:
    """Check ``header`` against ``payload`` and ``secret``; the signed timestamp, or
    :class:`SignatureVerificationError`.

    As the SDKs do: any one matching signature in the header is enough (CasaPay may send several
    ``v1`` values while a secret is rolled), the comparison takes constant time, and a timestamp
    older than ``tolerance`` seconds is refused (``None`` or 0: no age check).
    """
    if not header:
        raise SignatureVerificationError(f"No {HEADERS.get(scheme, 'signature')} header.", header)
    if not secret:
        raise SignatureVerificationError("No signing secret was given.", header)
    fields: dict[str, list[str]] = {}
    for item in header.split(","):
        name, equals, value = item.strip().partition("=")
        if not equals:
            raise SignatureVerificationError("Unable to read the signature header.", header)
        fields.setdefault(name, []).append(value)
    try:
        moment = int(fields["t"][0])
    except (KeyError, ValueError):
        raise SignatureVerificationError("The signature header has no timestamp.", header) from None
    if scheme == "casapay":
        candidates = fields.get("v1", [])
    elif scheme == "payrex":
        candidates = [v for v in (*fields.get("li", []), *fields.get("te", [])) if v]
    else:
        raise ValueError(f"Unknown signature scheme {scheme!r}; expected casapay or payrex.")
    if not candidates:
        raise SignatureVerificationError("The signature header carries no signature.", header)
    expected = _digest(secret, moment, payload)
    # Every candidate is compared, so the time taken says nothing about which one matched.
    matched = [hmac.compare_digest(expected, candidate) for candidate in candidates]
    if not any(matched):
        raise SignatureVerificationError("No signature matches the payload.", header)
    if tolerance and moment < (time.time() if now is None else now) - tolerance:
        raise SignatureVerificationError(
            f"The signature's timestamp {moment} is outside the tolerance ({tolerance} s).", header
        )
    return moment
