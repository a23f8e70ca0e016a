"""Clocks: the system's, and a manual one that tests set and advance."""

from __future__ import annotations

import threading
import time

from payment_intent.domain.errors import parameter_invalid


class SystemClock:
    """Wall-clock time in whole seconds."""

    def now(self) -> int:
        return int(time.time())


class ManualClock:
    """A clock that stands still until told to move; safe to share between threads.

    :param start: the time it starts at, in whole seconds since the epoch (default: now).
    """

    def __init__(self, start: int | None = None) -> None:
        self._now = int(time.time()) if start is None else _seconds(start, "start")
        self._lock = threading.Lock()

    def now(self) -> int:
        return self._now

    def set(self, timestamp: int) -> None:
        """Move to ``timestamp``; time never runs backwards."""
        timestamp = _seconds(timestamp, "timestamp")
        with self._lock:
            if timestamp < self._now:
                raise parameter_invalid("timestamp", "A ManualClock cannot be set backwards.")
            self._now = timestamp

    def advance(self, seconds: int) -> int:
        """Move forward by ``seconds`` and return the new time."""
        seconds = _seconds(seconds, "seconds")
        with self._lock:
            self._now += seconds
            return self._now


def _seconds(value: int, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise parameter_invalid(param, f"{param} must be a non-negative whole number of seconds.")
    return value
