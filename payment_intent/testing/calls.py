"""One call of a concurrent run: what a worker asked of the service, what it answered, and when.

The concurrent runner (:mod:`payment_intent.testing.concurrency`) records a :class:`CallHistory`;
the checker (:mod:`payment_intent.testing.linearizability`) replays its calls one at a time and
compares the answers. Ids, client secrets and redirect addresses are random per run, so an answer
is compared as an :class:`Observation`: the intent as its caller sees it without them, or the
error's code together with the intent the error carries.

Needs no Hypothesis: a history saved from a failing test can be checked anywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from payment_intent.domain.errors import CardError, PaymentIntentError
from payment_intent.domain.model import PaymentIntent, Refund
from payment_intent.service import PaymentIntents
from payment_intent.testing.sequences import Step

#: The id a call is sent with when the intent it aims at was never created (its create was
#: refused): the service answers ``resource_missing``, in the run and in the replay alike.
MISSING_INTENT = "pi_never_created"

#: Answers that say nothing was done and the request may be sent again (a lost race retried too
#: often, a store that could not be reached). A call so answered changed nothing, so it fits
#: anywhere in an order.
CHANGED_NOTHING = frozenset(
    {"lock_timeout", "concurrent_modification", "idempotency_key_in_use", "storage_unavailable"}
)

#: What differs between two runs of the same calls: made of random ids, or naming them.
_RANDOM_FIELDS: Any = {
    "id": True,
    "client_secret": True,
    "next_action": {"redirect_url"},
    "charges": {"__all__": {"id"}},
    "refunds": {"__all__": {"id", "payment_intent", "charge"}},
}
_RANDOM_REFUND_FIELDS = {"id", "payment_intent", "charge"}


def observed_intent(intent: PaymentIntent) -> str:
    """The intent as JSON text without its random ids: equal text, equal intents to a caller."""
    seen = intent.model_dump(mode="json", exclude=_RANDOM_FIELDS)
    return json.dumps(seen, sort_keys=True, separators=(",", ":"))


def observed_refund(refund: Refund) -> str:
    """A refund a call made, as JSON text without its random ids."""
    seen = refund.model_dump(mode="json", exclude=_RANDOM_REFUND_FIELDS)
    return json.dumps(seen, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Observation:
    """What a call answered: the intent (``code`` is ``None``), or an error's ``code`` and the
    intent the error carries (``intent`` is ``None`` when it carries none). ``wrote``: the answer
    says the call changed the intent (it succeeded at a command, or its decline was recorded)."""

    code: str | None
    intent: str | None
    wrote: bool

    @classmethod
    def of(cls, step: Step, result: PaymentIntent | Refund | PaymentIntentError) -> Observation:
        if isinstance(result, PaymentIntentError):
            carried = result.payment_intent
            seen = observed_intent(carried) if carried is not None else None
            return cls(result.code, seen, isinstance(result, CardError))
        if isinstance(result, Refund):
            return cls(None, observed_refund(result), True)  # stored, even when it failed
        return cls(None, observed_intent(result), step.operation != "retrieve")

    @property
    def changed_nothing(self) -> bool:
        return self.code in CHANGED_NOTHING

    def summary(self) -> str:
        """A short reading for people: ``succeeded v3 received=1000`` or
        ``payment_intent_unexpected_state (canceled v3)``."""
        if self.intent is None:
            return self.code or "nothing"
        intent = json.loads(self.intent)
        if "version" not in intent:  # a refund the call made
            return f"refund {intent['status']} amount={intent['amount']}"
        words = [intent["status"], f"v{intent['version']}"]
        for amount in ("amount_capturable", "amount_received"):
            if intent[amount]:
                words.append(f"{amount.removeprefix('amount_')}={intent[amount]}")
        if intent["metadata"]:
            words.append(f"metadata={intent['metadata']}")
        if self.code is None:
            return " ".join(words)
        return f"{self.code} ({' '.join(words)})"


def perform(
    service: PaymentIntents, step: Step, intent_id: str | None
) -> tuple[Observation, str | None]:
    """Send ``step`` to ``service``, about ``intent_id`` unless it creates one.

    Returns what it answered and the id of the intent the answer is about (``None`` when a
    create was refused outright). Errors the library raises on purpose are answers; anything else
    is a bug in the code under test and propagates.
    """
    result: PaymentIntent | Refund | PaymentIntentError
    try:
        if step.operation == "create":
            result = service.create(**step.kwargs)
        else:
            result = getattr(service, step.operation)(intent_id, **step.kwargs)
    except PaymentIntentError as error:
        result = error
    about = result.payment_intent if isinstance(result, PaymentIntentError) else result
    if isinstance(about, Refund):  # a refund is about the intent it was asked of
        about = None
    if about is not None:
        intent_id = about.id
    elif step.operation == "create":
        intent_id = None
    return Observation.of(step, result), intent_id


@dataclass(frozen=True, slots=True)
class Call:
    """One call as it happened: who made it (``worker``: ``setup``, ``t0``, ``p1``, ``final``),
    which intent of the run it is about (its number, in order of creation), what it asked, when
    it started and returned (``time.monotonic_ns``, one clock for every process of the machine)
    and what it answered."""

    worker: str
    intent: int
    step: Step
    start: int
    end: int
    observation: Observation

    def precedes(self, other: Call) -> bool:
        """This call returned before ``other`` started: every order must put it first."""
        return self.end < other.start


@dataclass(frozen=True, slots=True)
class CallHistory:
    """Every call of a run, with what the replay needs: the profile and the clock's time (the
    runner's clock stands still, so one time serves every call)."""

    calls: tuple[Call, ...]
    profile: str
    now: int
