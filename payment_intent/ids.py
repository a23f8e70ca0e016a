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
_POOL_SIZE = 4096
_STEP = 3844**3  # the low three base-3844 digits: the high ones change every 57 seconds

_lock = threading.Lock()
_last = 0
_high = (-1, "")
# Random bytes come from os.urandom in blocks: one system call per few hundred ids, not one each.
_pool = b""
_taken = 0


def _time_part(number: int) -> str:
    """``number`` as 12 base-62 digits, so that string order is numeric order (to the year 2880)."""
    global _high
    high, low = divmod(number, _STEP)
    cached_high, text = _high
    if high != cached_high:
        text = _digits(high)
        _high = (high, text)
    return text + _digits(low)


def _digits(number: int) -> str:
    """The low three base-3844 digits of ``number``: six characters."""
    rest, third = divmod(number, 3844)
    first, second = divmod(rest, 3844)
    return _PAIRS[first % 3844] + _PAIRS[second] + _PAIRS[third]


def _take(length: int) -> str:
    """``length`` random characters from the pool; the caller holds ``_lock``."""
    global _pool, _taken
    if _taken + length > len(_pool):
        _pool, _taken = os.urandom(_POOL_SIZE), 0
    chunk = _pool[_taken : _taken + length]
    _taken += length
    return chunk.translate(_RANDOM).decode()


def new_id(prefix: str) -> str:
    """A fresh id such as ``pi_028cd5VTwr...``: 12 time-ordered characters and 12 random ones."""
    global _last
    with _lock:  # the tick and the random characters under one acquisition
        _last = max(_last + 1, time.time_ns())
        tick = _last
        random = _take(12)
    return f"{prefix}_{_time_part(tick)}{random}"


def new_client_secret(intent_id: str) -> str:
    """The secret a browser uses to see and confirm one intent."""
    with _lock:
        random = _take(24)
    return f"{intent_id}_secret_{random}"


def event_id(intent_id: str, version: int, index: int) -> str:
    """The id of the ``index``-th event that version ``version`` of an intent emitted.

    Derived rather than random: an event is identified by the change it reports, and a store
    can find it from its id without keeping an index of ids (see :func:`parse_event_id`).
    """
    return f"evt_{intent_id}_{version}_{index}"


def parse_event_id(event: str) -> tuple[str, int, int] | None:
    """``(intent_id, version, index)`` of an id :func:`event_id` made, else ``None``."""
    head, _, rest = event.rpartition("_")
    head, _, version = head.rpartition("_")
    if not (version + rest).isascii():  # str.isdigit passes a superscript, which int() refuses
        return None
    if not head.startswith("evt_") or not version.isdigit() or not rest.isdigit():
        return None
    parsed = head[4:], int(version), int(rest)
    # Only the exact spelling event_id makes: not "007", not other scripts' digits.
    return parsed if event_id(*parsed) == event else None


def charge_id(intent_id: str, version: int) -> str:
    """The id of the charge that version ``version`` of an intent made (one command, one charge
    at most).

    Derived rather than random, as event ids are: a refund may name only the charge
    (``POST /v1/refunds`` with ``charge``), and the charge's id then says which intent holds it,
    so no store keeps an index of charges (see :func:`charge_owner`). A re-decided attempt makes
    the same charge again.
    """
    return f"ch_{intent_id.removeprefix('pi_')}_{version}"


def charge_owner(charge: str) -> str | None:
    """The id of the intent whose charge :func:`charge_id` named ``charge``, else ``None``."""
    head, _, version = charge.rpartition("_")
    if not head.startswith("ch_") or not version.isascii() or not version.isdigit():
        return None
    intent_id = "pi_" + head[3:]
    # Only the exact spelling charge_id makes.
    return intent_id if charge_id(intent_id, int(version)) == charge else None
