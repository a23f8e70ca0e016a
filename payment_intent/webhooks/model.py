"""What the webhook machinery keeps: endpoints, the deliveries of events to them, every attempt,
and the retry schedule that spaces the attempts.

Plain frozen values; the storage of them is :mod:`payment_intent.webhooks.storage`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from payment_intent.domain.status import EventType

#: An endpoint receives events while ``enabled``; a ``disabled`` one skips the events that happen
#: meanwhile, and its pending deliveries wait until it is enabled again.
EndpointStatus = Literal["enabled", "disabled"]
#: A delivery is ``pending`` until the receiver acknowledges it (``delivered``) or the schedule's
#: attempts run out (``failed``).
DeliveryState = Literal["pending", "delivered", "failed"]
#: What one attempt came to: acknowledged, to be retried, or the last one, unacknowledged.
Outcome = Literal["succeeded", "retrying", "failed"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A URL that receives the events of one mode, signed with its ``secret``.

    ``dialect`` renders the events (and names ``enabled_events``, which keeps the caller's names:
    PayRex's ``payment_intent.awaiting_capture`` is the canonical
    ``payment_intent.amount_capturable_updated``). ``cursor`` is the sequence of the last event of
    the feed this endpoint has been given (or skipped): it starts at the feed's head when the
    endpoint is created, so an endpoint receives the events committed after it.
    """

    id: str
    dialect: str
    livemode: bool
    url: str
    enabled_events: tuple[str, ...]
    secret: str
    created: int
    updated: int
    cursor: int
    status: EndpointStatus = "enabled"
    api_version: str | None = None
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def wants(self, canonical_type: str) -> bool:
        """Whether this endpoint is sent events of ``canonical_type``."""
        return "*" in self.enabled_events or canonical_type in self.canonical_events

    @property
    def canonical_events(self) -> frozenset[str]:
        if self.dialect != "payrex":
            return frozenset(self.enabled_events)
        from payment_intent.dialects.payrex import EVENT_TYPES

        canonical = {wire: name for name, wire in EVENT_TYPES.items()}
        return frozenset(canonical.get(name, name) for name in self.enabled_events)


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """An event to send to an endpoint, rendered once: every attempt sends these same bytes."""

    endpoint_id: str
    event_id: str
    event_sequence: int
    event_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for one endpoint, and where its attempts stand."""

    id: int
    endpoint_id: str
    event_id: str
    event_sequence: int
    event_type: str
    body: bytes
    state: DeliveryState
    attempts: int
    next_attempt_at: float | None


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery leased by one worker (``lease_token``), with what sending it needs."""

    delivery: Delivery
    url: str
    secret: str
    dialect: str
    livemode: bool
    lease_token: str


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try to hand an event over: to an endpoint (``target`` is its id) or through a relay
    (``target`` is ``relay:<name>``).

    ``status_code`` is the receiver's answer (``None``: none came, ``error`` says why); ``duration``
    is in seconds; ``next_retry_at`` (Unix time) is when the next attempt is due, ``None`` after
    the last one.
    """

    target: str
    event_id: str
    number: int
    started_at: float
    duration: float
    status_code: int | None
    error: str | None
    outcome: Outcome
    next_retry_at: float | None = None


@dataclass(frozen=True, slots=True)
class Result:
    """A claimed delivery's attempt, and the state it leaves the delivery in."""

    claimed: ClaimedDelivery
    attempt: Attempt

    @property
    def state(self) -> DeliveryState:
        outcome = self.attempt.outcome
        return (
            "delivered"
            if outcome == "succeeded"
            else "failed"
            if outcome == "failed"
            else "pending"
        )


@dataclass(frozen=True, slots=True)
class RelayState:
    """Where a relay stands: the sequence of the last event it has handed over (or given up on),
    how many attempts the next event has had, and when the next attempt is due."""

    name: str
    cursor: int
    attempts: int
    next_attempt_at: float | None
    lease_token: str | None = None


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """How attempts are spaced: after attempt ``n`` fails, the next comes
    ``first_delay * factor ** (n - 1)`` seconds later (at most ``max_delay``); after
    ``max_attempts`` the delivery is recorded as failed. ``timeout`` bounds each attempt's wait for
    the receiver (connecting, and each read)."""

    max_attempts: int = 16
    first_delay: float = 60.0
    factor: float = 2.0
    max_delay: float = 6 * 3600.0
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not 1 <= self.max_attempts <= 100:
            raise ValueError("max_attempts must be a whole number from 1 to 100.")
        for name in ("first_delay", "factor", "max_delay", "timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise ValueError(f"{name} must be a number of 0 or more.")
        if self.factor < 1:
            raise ValueError("factor must be at least 1: delays never shrink.")
        if self.timeout <= 0:
            raise ValueError("timeout must be above 0 seconds.")

    @classmethod
    def for_test_mode(cls) -> RetrySchedule:
        """Test mode's fast schedule: six attempts over about half a minute, so a developer
        sees a failing handler retried while still looking at it."""
        return cls(max_attempts=6, first_delay=1.0, factor=2.0, max_delay=16.0, timeout=5.0)

    @classmethod
    def for_live_mode(cls) -> RetrySchedule:
        """Live mode's schedule: sixteen attempts over about two days, as providers retry."""
        return cls()

    def delay_after(self, attempts: int) -> float | None:
        """Seconds until the next attempt once ``attempts`` have failed; ``None``: no more."""
        if attempts >= self.max_attempts:
            return None
        return float(min(self.first_delay * self.factor ** (attempts - 1), self.max_delay))

    @property
    def lease(self) -> float:
        """How long a claimed delivery stays leased to its worker: past the longest attempt, so a
        lease only lapses when its worker is gone (then another worker takes the delivery)."""
        return 3 * self.timeout + 5.0


#: The canonical PaymentIntent event types, which ``trigger`` and ``--forward-to`` cover.
EVENT_TYPES: tuple[str, ...] = tuple(event.value for event in EventType)
