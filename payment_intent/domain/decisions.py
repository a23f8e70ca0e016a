"""What a command decides: a :class:`Change` outright, or a :class:`ProcessorCall` that finishes
into one once the processor has answered; and the two ways every decision makes a new version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from payment_intent.domain.errors import parameter_invalid
from payment_intent.domain.events import Change
from payment_intent.domain.model import NO_METADATA, FrozenDict, PaymentIntent
from payment_intent.domain.outcomes import Attempt, Outcome
from payment_intent.domain.params import MAX_METADATA_KEYS

#: What the service may ask the processor, by the port's method names.
Request = Literal[
    "authorize",
    "complete_authentication",
    "settle",
    "capture",
    "release",
    "increment_authorization",
    "refund",
]


@dataclass(frozen=True, slots=True)
class ProcessorCall:
    """A command that needs the processor's answer: ask ``request`` about ``attempt`` (with
    ``amount`` for a capture, ``succeed`` for a settlement), then ``finish`` with the outcome."""

    request: Request
    attempt: Attempt
    finish: Callable[[Outcome], Change]
    amount: int = 0
    succeed: bool = True


Decision = Change | ProcessorCall


def next_version(intent: PaymentIntent, now: int, **changes: Any) -> PaymentIntent:
    """The intent's next version with ``changes``; its ``updated_at`` never goes back in time."""
    return intent.evolve(
        version=intent.version + 1, updated_at=max(now, intent.updated_at), **changes
    )


def merge_metadata(current: dict[str, str], given: dict[str, str] | str) -> FrozenDict:
    """An empty value removes its key, as the providers do, and ``metadata=""`` removes them all;
    the result must stay within limits."""
    if isinstance(given, str):
        return NO_METADATA
    merged = dict(current)
    for key, value in given.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > MAX_METADATA_KEYS:
        raise parameter_invalid("metadata", f"Metadata can have at most {MAX_METADATA_KEYS} keys.")
    return FrozenDict(merged) if merged else NO_METADATA
