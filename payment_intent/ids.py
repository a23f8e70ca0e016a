"""Identifiers in the providers' style: a prefix, then 24 characters that sort by creation time.

Ids made later in a process sort after earlier ones, so "newest first, ties broken by id" keeps
creation order even when many intents share one second. The rest of each id is random.
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]  # base 3844: two digits per step
# Random bytes map onto the alphabet by table: 256 = 4 * 62 + 8, so the first 8 characters come a
# quarter more often than the rest. That still leaves 5.95 bits a character: over 70 random bits in
# an id, over 140 in a client secret.
_RANDOM = bytes((_ALPHABET[b % 62]).encode()[0] for b in range(256))
_lock = threading.Lock()
_last = 0


def _tick() -> int:
    global _last
    with _lock:
        _last = max(_last + 1, time.time_ns())
        return _last


def _time_part(number: int) -> str:
    """``number`` as 12 base-62 digits, so that string order is numeric order (to the year 2880)."""
    pairs = []
    for _ in range(6):
        number, rest = divmod(number, 3844)
        pairs.append(_PAIRS[rest])
    return "".join(reversed(pairs))


def _random_part(length: int) -> str:
    return os.urandom(length).translate(_RANDOM).decode()


def new_id(prefix: str) -> str:
    """A fresh id such as ``pi_028cd5VTwr...``: 12 time-ordered characters and 12 random ones."""
    return f"{prefix}_{_time_part(_tick())}{_random_part(12)}"


def new_client_secret(intent_id: str) -> str:
    """The secret a browser uses to see and confirm one intent."""
    return f"{intent_id}_secret_{_random_part(24)}"
