"""API keys: which keys the server accepts, and what each one may do.

Keys are configured by whoever runs the server, never written into the code. A key's prefix says
its kind and mode, as with both providers: ``sk_test_`` / ``sk_live_`` are secret keys,
``pk_test_`` / ``pk_live_`` publishable keys, which may only read an intent with its client
secret. Test-mode keys and live-mode keys are served by different services over different stores,
so a test key cannot reach a live intent whatever the request says.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass

from payment_intent.domain.errors import AuthenticationError

_SHAPE = re.compile(r"(sk|pk)_(test|live)_[A-Za-z0-9_]{8,200}")
_PREFIX = re.compile(r"(?:sk|pk|rk)_(?:test|live)_")


def masked(presented: str) -> str:
    """A wrong key as Stripe repeats it: its kind, then only its last four characters
    (``sk_test_****abcd``), so an error message or a log never carries a usable secret."""
    shown = presented[-4:] if len(presented) >= 12 else ""
    prefix = _PREFIX.match(presented)
    kind = prefix.group(0) if prefix else ""
    return f"{kind}****{shown}".encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One configured key."""

    value: str

    @property
    def livemode(self) -> bool:
        return self.value[3:7] == "live"

    @property
    def publishable(self) -> bool:
        return self.value.startswith("pk_")


class ApiKeys:
    """The set of keys a server accepts; lookups compare in constant time."""

    def __init__(self, keys: Iterable[str]) -> None:
        parsed: list[ApiKey] = []
        for raw in keys:
            value = raw.strip()
            if not value:
                continue
            if not _SHAPE.fullmatch(value):
                raise ValueError(
                    "An API key must look like sk_test_…, sk_live_…, pk_test_… or pk_live_… "
                    "(at least 8 characters after the prefix, letters, digits and _)."
                )
            parsed.append(ApiKey(value))
        if not parsed:
            raise ValueError("Configure at least one API key.")
        self._keys = tuple(parsed)

    @classmethod
    def from_text(cls, text: str) -> ApiKeys:
        """Keys from a comma-separated list, as in ``PAYMENT_INTENT_API_KEYS``."""
        return cls(text.split(","))

    @property
    def modes(self) -> frozenset[bool]:
        """The modes (``livemode`` values) some configured key belongs to."""
        return frozenset(key.livemode for key in self._keys)

    def authenticate(self, presented: str | None) -> ApiKey:
        """The configured key matching ``presented``, or an :class:`AuthenticationError` (401)."""
        if not presented:
            raise AuthenticationError(
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (Authorization: Bearer YOUR_SECRET_KEY) "
                "or Basic auth with the key as the user name and no password (curl -u KEY:).",
                code="api_key_missing",
            )
        found: ApiKey | None = None
        encoded = presented.encode("utf-8", "surrogateescape")
        for key in self._keys:  # every key is compared, so timing says nothing about which matched
            if hmac.compare_digest(encoded, key.value.encode()):
                found = key
        if found is None:
            raise AuthenticationError(
                f"Invalid API Key provided: {masked(presented)}", code="api_key_invalid"
            )
        return found
