"""Identifiers in the providers' style: a prefix, then 24 characters that sort by creation time.

Ids made later in a process sort after earlier ones, so "newest first, ties broken by id" keeps
creation order even when many intents share one second. The rest of each id is random.
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_lock = threading.Lock()
_last = 0


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rest = divmod(number, 62)
        digits.append(_ALPHABET[rest])
    return "".join(reversed(digits))


def _tick() -> int:
    global _last
    with _lock:
        _last = max(_last + 1, time.time_ns())
        return _last


def new_id(prefix: str) -> str:
    """A fresh id such as ``pi_0Pz3...``: 11 time-ordered characters and 13 random ones."""
    return f"{prefix}_{_base62(_tick(), 11)}{_base62(int.from_bytes(os.urandom(10)), 13)}"


def new_client_secret(intent_id: str) -> str:
    """The secret a browser uses to see and confirm one intent."""
    return f"{intent_id}_secret_{_base62(int.from_bytes(os.urandom(18)), 24)}"
