"""The command loop: idempotency, claims, the processor call and the optimistic commit.

Each attempt of a command reads the clock once, honours its idempotency key, loads the intent, and
lets the domain decide. A decision that needs the processor first claims the attempt in the store,
so that of two racing requests only the one whose claim the store accepts asks the processor; the
outcome is recorded in a second commit that settles the claim. A commit that loses a race is
retried from a fresh load, so the loser sees the winner's state and the error that state implies.

Between the two commits the intent is stored as it was before the request, and the claim says an
attempt is in flight. A request that meets a live claim waits for it to settle (a request with the
same idempotency key is told at once that its first copy is still in flight); a claim left behind
by a crashed process is settled by the next command on the intent, which asks the processor about
the same attempt again (``docs/decisions.md``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from payment_intent.domain import expiry
from payment_intent.domain.decisions import Decision, ProcessorCall
from payment_intent.domain.errors import (
    ConcurrencyError,
    IdempotencyError,
    PaymentIntentError,
    ProcessorUnavailableError,
    parameter_invalid,
    resource_missing,
)
from payment_intent.domain.events import Change
from payment_intent.domain.model import Event, PaymentIntent
from payment_intent.domain.outcomes import Outcome
from payment_intent.domain.params import MAX_ID_LENGTH
from payment_intent.ids import event_id, new_id
from payment_intent.operations import OPERATIONS
from payment_intent.ports import (
    Claim,
    Clock,
    Commit,
    IdempotencyRecord,
    IntegrityError,
    Processor,
    Store,
)
from payment_intent.service.commands import Command, Context, decide

IDEMPOTENCY_TTL = 24 * 3600


@dataclass(frozen=True, slots=True)
class Timing:
    """How long a claim protects an attempt before it counts as abandoned (``claim_lease``, in the
    clock's seconds), and how long a request waits for another's attempt to settle
    (``claim_wait``, in real seconds) before it answers ``lock_timeout``."""

    claim_lease: int = 60
    claim_wait: float = 10.0


class CommandLoop:
    """Runs commands over a store, a clock and a processor; see the module's docstring."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        processor: Processor,
        context: Context,
        *,
        max_retries: int,
        timing: Timing,
    ) -> None:
        self.store = store
        self.clock = clock
        self.processor = processor
        self.context = context
        self.max_retries = max_retries
        self.timing = timing
        #: The domain's decision for a command (replaceable, so a test can plant a bug in it).
        self.decide = decide

    def run(self, command: Command) -> PaymentIntent:
        key = _check_key(command.idempotency_key)
        fingerprint = _fingerprint(command) if key is not None else ""
        waited_until = time.monotonic() + self.timing.claim_wait
        pause = 0.001
        lost = 0
        while lost < self.max_retries:
            now = self.clock.now()
            if key is not None:
                replayed = self._replay(key, fingerprint, now)
                if replayed is not None:
                    return replayed
                held = self.store.claim_for_key(key)
                if held is not None:
                    if held.expires_at <= now:
                        self.reconcile(held, now)
                        continue
                    if not hmac.compare_digest(held.fingerprint, fingerprint):
                        raise _key_reused(key)
                    raise _in_flight(key)
            intent = self._load(command.intent_id) if command.intent_id is not None else None
            if intent is not None:
                held = self.store.claim(intent.id)
                if held is not None:
                    if held.expires_at <= now:
                        self.reconcile(held, now)
                    elif time.monotonic() >= waited_until:
                        raise _lock_timeout(self.max_retries)
                    else:
                        time.sleep(pause)
                        pause = min(pause * 2, 0.05)
                    continue
                if expiry.is_due(intent, now):
                    # A command that meets a lapsed hold records its expiry first, then decides.
                    if not self._commit_or_lose(expiry.expire(intent), intent, now):
                        lost += 1
                    continue
            try:
                decision = self.decide(
                    self.context,
                    command,
                    intent,
                    now,
                    attempt_id=new_id("att"),
                    new_intent_id=new_id("pi"),
                )
            except PaymentIntentError as error:
                if key is not None:
                    # A request with the same key may have committed since we looked at the key.
                    replayed = self._replay(key, fingerprint, now)
                    if replayed is not None:
                        return replayed
                if intent is not None and error.payment_intent is None:
                    error.payment_intent = intent
                raise
            expected = intent.version if intent is not None else 0
            try:
                if isinstance(decision, ProcessorCall):
                    claim = Claim(
                        intent_id=decision.attempt.intent_id,
                        attempt_id=decision.attempt.attempt_id,
                        expected_version=expected,
                        operation=command.operation,
                        params=command.params_data(),
                        idempotency_key=key,
                        fingerprint=fingerprint,
                        created=now,
                        expires_at=now + self.timing.claim_lease,
                    )
                    self.store.commit(Commit(None, expected, claim=claim))
                    change = self._settle(decision, claim, intent, now)
                else:
                    change = decision
                    record = _record(key, fingerprint, change, now)
                    self.store.commit(
                        Commit(change.intent, expected, events_of(change, now), record)
                    )
            except IntegrityError:
                # Lost a race (a version, a claim or the key): look again from the start.
                lost += 1
                continue
            if change.error is not None:
                raise change.error
            return change.intent
        raise _lock_timeout(self.max_retries)

    def _settle(
        self, call: ProcessorCall, claim: Claim, intent: PaymentIntent | None, now: int
    ) -> Change:
        """Ask the processor about a claimed attempt and record its outcome, settling the claim.

        If the processor fails to answer, the claim stays: the attempt may have reached the
        processor, and the next command on the intent settles it by asking again.
        """
        outcome = self.ask(call)
        try:
            change = call.finish(outcome)
        except PaymentIntentError as refused:
            # The processor refused a capture or a release: nothing changes but the claim goes.
            self.store.commit(Commit(None, claim.expected_version, settles=claim))
            if intent is not None and refused.payment_intent is None:
                refused.payment_intent = intent
            raise
        record = _record(claim.idempotency_key, claim.fingerprint, change, now)
        self.store.commit(
            Commit(
                change.intent, claim.expected_version, events_of(change, now), record, settles=claim
            )
        )
        return change

    def ask(self, call: ProcessorCall) -> Outcome:
        """The processor's answer to ``call``; what it raises becomes a typed, retryable error."""
        processor = self.processor
        try:
            if call.request == "authorize":
                return processor.authorize(call.attempt)
            if call.request == "complete_authentication":
                return processor.complete_authentication(call.attempt)
            if call.request == "settle":
                return processor.settle(call.attempt, call.succeed)
            if call.request == "capture":
                return processor.capture(call.attempt, call.amount)
            if call.request == "increment_authorization":
                return processor.increment_authorization(call.attempt, call.amount)
            if call.request == "refund":
                return processor.refund(call.attempt, call.amount)
            return processor.release(call.attempt)
        except Exception as failure:
            raise ProcessorUnavailableError(
                "The payment processor did not answer. The attempt is recorded and the next "
                "request on this PaymentIntent settles it; retry the request.",
                code="processor_unavailable",
            ) from failure

    def reconcile(self, held: Claim, now: int) -> None:
        """Settle a claim whose claimer is gone: decide its command again on the same attempt.

        The processor answers a repeated attempt with its first answer, so the intent ends as the
        first request would have left it, and that request's retry replays the same result.
        """
        params = OPERATIONS[held.operation].params.model_validate(held.params)
        command = Command(
            held.operation,
            held.intent_id if held.expected_version else None,
            params,
            held.idempotency_key,
        )
        intent = self.store.load(held.intent_id) if held.expected_version else None
        decision: Decision | None
        try:
            decision = self.decide(
                self.context,
                command,
                intent,
                now,
                attempt_id=held.attempt_id,
                new_intent_id=held.intent_id,
            )
        except PaymentIntentError:
            decision = None  # refused now: there is nothing to ask the processor
        try:
            if isinstance(decision, ProcessorCall):
                self._settle(decision, held, intent, now)
            else:  # nothing left to ask the processor: let the claim go
                self.store.commit(Commit(None, held.expected_version, settles=held))
        except ProcessorUnavailableError:
            raise  # still no answer: the claim stays, and the caller hears why
        except (PaymentIntentError, IntegrityError):
            # The processor refused (the claim went with the refusal), or another request
            # settled the claim first: the loop looks again.
            return

    def _replay(self, key: str, fingerprint: str, now: int) -> PaymentIntent | None:
        """The first result of a keyed request, as of now, or ``None`` if there is none yet."""
        record = self.store.idempotency_record(key)
        if record is None or record.expires_at <= now:
            return None
        if not hmac.compare_digest(record.fingerprint, fingerprint):
            raise _key_reused(key)
        if "error" in record.response:
            raise PaymentIntentError.from_dict(record.response["error"])
        first = PaymentIntent.model_validate(record.response["intent"])
        return expiry.as_of(first, now)

    def _load(self, intent_id: str) -> PaymentIntent:
        intent = self.store.load(intent_id)
        if intent is None:
            raise resource_missing("intent", "payment_intent", intent_id)
        return intent

    def _commit_or_lose(self, change: Change, intent: PaymentIntent, now: int) -> bool:
        """Commit a change no caller waits on (a lapsed hold's expiry); ``False`` if it lost."""
        return commit_quietly(self.store, change, intent, now)


#: An event's field names. Every event is built with all its fields set, so all events share this
#: one set as their ``model_fields_set`` instead of each building a set of its own.
_EVENT_FIELDS: set[str] = set(Event.model_fields)


def events_of(change: Change, now: int) -> tuple[Event, ...]:
    """The events a change emits, as the store keeps them."""
    intent = change.intent
    return tuple(
        Event.model_construct(
            _EVENT_FIELDS,
            id=event_id(intent.id, intent.version, index),
            type=event_type.value,
            created=now,
            intent_id=intent.id,
            intent_version=intent.version,
            data=intent,
            previous_attributes=previous,
            sequence=None,
            refund=change.refund,
        )
        for index, (event_type, previous) in enumerate(change.events)
    )


def _record(
    key: str | None, fingerprint: str, change: Change, now: int
) -> IdempotencyRecord | None:
    if key is None:
        return None
    response = (
        {"error": change.error.to_dict()}
        if change.error is not None
        else {"intent": change.intent.model_dump(mode="json")}
    )
    return IdempotencyRecord(key, fingerprint, now, now + IDEMPOTENCY_TTL, response)


def _check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str) or not key or len(key) > MAX_ID_LENGTH or "\x00" in key:
        raise parameter_invalid(
            "idempotency_key", "Idempotency keys must be 1 to 255 characters, without NUL."
        )
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise parameter_invalid(
            "idempotency_key", "Idempotency keys must be valid Unicode text."
        ) from None
    return key


def _fingerprint(command: Command) -> str:
    body = json.dumps([command.operation, command.intent_id, command.params_data()], sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def _key_reused(key: str) -> IdempotencyError:
    return IdempotencyError(
        "Keys for idempotent requests can only be used with the same parameters they were "
        f"first used with. Try using a key other than '{key}' if you meant to execute a "
        "different request.",
        code="idempotency_key_reused",
        param="idempotency_key",
    )


def _in_flight(key: str) -> IdempotencyError:
    return IdempotencyError(
        "There is currently another in-progress request using this Idempotent Key (that "
        "probably means you submitted twice, and the other request is still going through): "
        f"{key}. Please try again later.",
        code="idempotency_key_in_use",
        http_status=409,
    )


def _lock_timeout(attempts: int) -> ConcurrencyError:
    return ConcurrencyError(
        "This PaymentIntent is being changed by another request, which did not finish in time "
        f"(after {attempts} attempts or the wait for it). Retry the request.",
        code="lock_timeout",
    )


def commit_quietly(store: Store, change: Change, intent: PaymentIntent, now: int) -> bool:
    """Commit a change no caller waits on (a lapsed hold's expiry); ``False`` if it lost a race."""
    try:
        store.commit(Commit(change.intent, intent.version, events_of(change, now)))
    except IntegrityError:
        return False
    return True
