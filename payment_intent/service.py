"""The application layer: one method per operation of SPEC section 3.

Each command runs the same loop: validate the parameters, honour an idempotency key, load the intent
(expiring a lapsed hold first), let the domain decide, then commit the new version, its events and
the idempotency record together. A commit that loses a race is retried from a fresh load, so the
loser sees the winner's state and the error that state implies.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypeVar, overload

from payment_intent.adapters.clocks import SystemClock
from payment_intent.adapters.simulated import SimulatedProcessor
from payment_intent.domain import aggregate
from payment_intent.domain.aggregate import Change
from payment_intent.domain.errors import (
    ConcurrencyError,
    IdempotencyError,
    InvalidRequestError,
    PaymentIntentError,
    parameter_invalid,
    resource_missing,
)
from payment_intent.domain.lifecycle import require_status
from payment_intent.domain.model import ClientPaymentIntent, Event, PaymentIntent, trusted
from payment_intent.domain.outcomes import Attempt, PaymentMethod
from payment_intent.domain.params import (
    MAX_ID_LENGTH,
    CancelParams,
    CaptureParams,
    ConfirmParams,
    CreatedFilter,
    CreateParams,
    EventsParams,
    ListParams,
    OutcomeParams,
    UpdateParams,
    parse,
)
from payment_intent.domain.profiles import Profile, get_profile
from payment_intent.domain.status import ConfirmationMethod, EventType, Status
from payment_intent.ids import event_id, new_client_secret, new_id
from payment_intent.ports import (
    Clock,
    Commit,
    IdempotencyRecord,
    IntegrityError,
    ListQuery,
    OperationalError,
    Processor,
    Store,
)
from payment_intent.stores import default_store, store_from_url

T = TypeVar("T")
P = ParamSpec("P")

IDEMPOTENCY_TTL = 24 * 3600
_SWEEP_BATCH = 500


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list: ``data`` in the list's order, and whether more lie beyond it."""

    data: list[T]
    has_more: bool

    def __iter__(self) -> Iterator[T]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def _storage_failures_are_api_errors(method: Callable[P, T]) -> Callable[P, T]:
    """A store that failed or could not be reached is a typed, retryable API error (503)."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(*args, **kwargs)
        except OperationalError as error:
            raise PaymentIntentError(
                f"The PaymentIntent store is unavailable ({error}). The request can be retried; "
                "a retry with the same idempotency key acts at most once.",
                code="storage_unavailable",
                http_status=503,
            ) from error

    return call


def _given(unknown: dict[str, Any], **params: Any) -> dict[str, Any]:
    """The parameters the caller actually passed (``None`` means absent), unknown ones included."""
    given = {name: value for name, value in params.items() if value is not None}
    given.update(unknown)
    return given


class PaymentIntents:
    """The PaymentIntent service: every operation, over a store, a clock and a processor.

    Every argument is optional: the store named by ``PAYMENT_INTENT_STORE`` (in-memory when it is
    unset), the system clock, the simulated processor and the CasaPay profile are the defaults.
    """

    def __init__(
        self,
        store: Store | None = None,
        clock: Clock | None = None,
        processor: Processor | None = None,
        profile: str | Profile = "casapay",
        *,
        livemode: bool = False,
        max_retries: int = 16,
    ) -> None:
        self.store: Store = store if store is not None else default_store()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.processor: Processor = processor if processor is not None else SimulatedProcessor()
        self.profile: Profile = get_profile(profile)
        self.livemode = livemode
        self.max_retries = max_retries

    # -- commands ------------------------------------------------------------------------------

    def create(
        self,
        /,
        *,
        amount: int | None = None,
        currency: str | None = None,
        customer: str | None = None,
        payment_method: str | None = None,
        payment_method_types: list[str] | None = None,
        description: str | None = None,
        capture_method: str | None = None,
        confirmation_method: str | None = None,
        confirm: bool | None = None,
        return_url: str | None = None,
        metadata: dict[str, str] | None = None,
        statement_descriptor: str | None = None,
        payment_method_options: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        **unknown: Any,
    ) -> PaymentIntent:
        """Create an intent; with ``confirm=True`` also attempt the payment in the same request."""
        given = _given(
            unknown,
            amount=amount,
            currency=currency,
            customer=customer,
            payment_method=payment_method,
            payment_method_types=payment_method_types,
            description=description,
            capture_method=capture_method,
            confirmation_method=confirmation_method,
            confirm=confirm,
            return_url=return_url,
            metadata=metadata,
            statement_descriptor=statement_descriptor,
            payment_method_options=payment_method_options,
        )
        params = parse(CreateParams, given)

        def decide(_: PaymentIntent | None, now: int) -> Change:
            intent_id = new_id("pi")
            method = self._method(params.payment_method)
            created = aggregate.create(
                self.profile,
                params,
                method,
                intent_id=intent_id,
                client_secret=new_client_secret(intent_id),
                now=now,
                livemode=self.livemode,
            )
            created_event: tuple[tuple[EventType, dict[str, Any]], ...] = ((EventType.CREATED, {}),)
            if not params.confirm:
                return Change(created, created_event)
            # One request, one version: confirm the draft so that it is stored as version 1.
            draft = created.evolve(version=0)
            confirm_params = ConfirmParams(
                payment_method=params.payment_method, return_url=params.return_url
            )
            change = self._confirm_change(draft, confirm_params, now)
            return Change(change.intent, created_event + change.events, change.error)

        return self._run("create", None, params, idempotency_key, decide)

    def update(
        self,
        intent_id: str,
        /,
        *,
        amount: int | None = None,
        currency: str | None = None,
        payment_method: str | None = None,
        payment_method_types: list[str] | None = None,
        capture_method: str | None = None,
        statement_descriptor: str | None = None,
        payment_method_options: dict[str, Any] | None = None,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
        idempotency_key: str | None = None,
        **unknown: Any,
    ) -> PaymentIntent:
        """Change an intent: payment terms only before it is paid, description and metadata after.

        An empty string clears ``description``; an empty metadata value removes that key.
        """
        given = _given(
            unknown,
            amount=amount,
            currency=currency,
            payment_method=payment_method,
            payment_method_types=payment_method_types,
            capture_method=capture_method,
            statement_descriptor=statement_descriptor,
            payment_method_options=payment_method_options,
            description=description,
            metadata=metadata,
        )
        params = parse(UpdateParams, given)

        def decide(intent: PaymentIntent | None, now: int) -> Change:
            assert intent is not None
            method = self._method(params.payment_method or intent.payment_method)
            return aggregate.update(self.profile, intent, params, method, now)

        return self._run("update", intent_id, params, idempotency_key, decide)

    def confirm(
        self,
        intent_id: str,
        /,
        *,
        payment_method: str | None = None,
        return_url: str | None = None,
        idempotency_key: str | None = None,
        **unknown: Any,
    ) -> PaymentIntent:
        """Attempt the payment; the processor decides the outcome. A decline raises CardError."""
        params = parse(
            ConfirmParams, _given(unknown, payment_method=payment_method, return_url=return_url)
        )

        def decide(intent: PaymentIntent | None, now: int) -> Change:
            assert intent is not None
            return self._confirm_change(intent, params, now)

        return self._run("confirm", intent_id, params, idempotency_key, decide)

    def capture(
        self,
        intent_id: str,
        /,
        *,
        amount_to_capture: int | None = None,
        idempotency_key: str | None = None,
        **unknown: Any,
    ) -> PaymentIntent:
        """Collect all (by default) or part of an authorized hold; the rest is released."""
        params = parse(CaptureParams, _given(unknown, amount_to_capture=amount_to_capture))

        def decide(intent: PaymentIntent | None, now: int) -> Change:
            assert intent is not None
            return aggregate.capture(self.profile, intent, params, now)

        return self._run("capture", intent_id, params, idempotency_key, decide)

    def cancel(
        self,
        intent_id: str,
        /,
        *,
        cancellation_reason: str | None = None,
        idempotency_key: str | None = None,
        **unknown: Any,
    ) -> PaymentIntent:
        """Cancel an intent that can still be canceled under the profile, releasing any hold."""
        params = parse(CancelParams, _given(unknown, cancellation_reason=cancellation_reason))

        def decide(intent: PaymentIntent | None, now: int) -> Change:
            assert intent is not None
            return aggregate.cancel(self.profile, intent, params, now)

        return self._run("cancel", intent_id, params, idempotency_key, decide)

    # -- test-mode helpers ---------------------------------------------------------------------

    def complete_action(
        self,
        intent_id: str,
        /,
        *,
        succeed: bool = True,
        idempotency_key: str | None = None,
        **unknown: Any,
    ) -> PaymentIntent:
        """Test mode: the customer came back from the redirect, authenticated or not.

        The outcome is recorded and the intent returned; a decline here is not raised, since no
        API caller made this request (the customer's browser did).
        """
        params = parse(OutcomeParams, _given(unknown, succeed=succeed))

        def decide(intent: PaymentIntent | None, now: int) -> Change:
            assert intent is not None
            require_status("complete_action", intent.status)
            if not params.succeed:
                return aggregate.fail_authentication(intent, now)
            if intent.confirmation_method is ConfirmationMethod.MANUAL:
                return aggregate.await_confirmation(intent, now)
            attempt = self._attempt(intent)
            outcome = self.processor.complete_authentication(attempt)
            return self._apply(intent, intent, attempt, outcome, now, raise_decline=False)

        return self._run("complete_action", intent_id, params, idempotency_key, decide)

    def settle(
        self,
        intent_id: str,
        /,
        *,
        succeed: bool = True,
        idempotency_key: str | None = None,
        **unknown: Any,
    ) -> PaymentIntent:
        """Test mode: the asynchronous method in flight succeeds or fails."""
        params = parse(OutcomeParams, _given(unknown, succeed=succeed))

        def decide(intent: PaymentIntent | None, now: int) -> Change:
            assert intent is not None
            require_status("settle", intent.status)
            attempt = self._attempt(intent)
            outcome = self.processor.settle(attempt, params.succeed)
            return self._apply(intent, intent, attempt, outcome, now, raise_decline=False)

        return self._run("settle", intent_id, params, idempotency_key, decide)

    @_storage_failures_are_api_errors
    def expire_authorizations(self) -> list[PaymentIntent]:
        """Cancel every hold past ``capture_before_at``; touches only those, found by index.

        A store with ``commit_many`` (the SQL stores) writes each batch of expiries in one
        transaction, so a sweep pays one flush per batch rather than one per hold.
        """
        expired: list[PaymentIntent] = []
        commit_many: Callable[[list[Commit]], list[IntegrityError | None]] | None = getattr(
            self.store, "commit_many", None
        )
        while True:
            now = self.clock.now()
            due = self.store.due_authorizations(now, _SWEEP_BATCH)
            if commit_many is not None:
                expired.extend(self._expire_together(due, now, commit_many))
            else:
                for intent_id in due:
                    intent = self.store.load(intent_id)
                    if intent is not None:
                        current, changed = self._expire_if_due(intent)
                        if changed:
                            expired.append(current)
            if len(due) < _SWEEP_BATCH:
                return expired

    def _expire_together(
        self,
        due: list[str],
        now: int,
        commit_many: Callable[[list[Commit]], list[IntegrityError | None]],
    ) -> list[PaymentIntent]:
        """Expire ``due`` holds in one ``commit_many``; one that lost a race is retried alone."""
        changes: list[tuple[PaymentIntent, Change]] = []
        for intent_id in due:
            intent = self.store.load(intent_id)
            if intent is not None and aggregate.is_due(intent, now):
                changes.append((intent, aggregate.expire(intent, now)))
        commits = [
            Commit(change.intent, intent.version, self._events(change, now))
            for intent, change in changes
        ]
        expired: list[PaymentIntent] = []
        for (intent, change), error in zip(changes, commit_many(commits), strict=True):
            if error is None:
                expired.append(change.intent)
                continue
            reloaded = self.store.load(intent.id)
            if reloaded is not None:
                current, changed = self._expire_if_due(reloaded)
                if changed:
                    expired.append(current)
        return expired

    # -- reads ---------------------------------------------------------------------------------

    @overload
    def retrieve(self, intent_id: str, /) -> PaymentIntent: ...

    @overload
    def retrieve(self, intent_id: str, /, *, client_secret: str) -> ClientPaymentIntent: ...

    def retrieve(
        self, intent_id: str, /, *, client_secret: str | None = None
    ) -> PaymentIntent | ClientPaymentIntent:
        """Read an intent; with ``client_secret``, only the fields a browser may see."""
        intent = self._load(intent_id)
        if client_secret is None:
            return intent
        if not isinstance(client_secret, str) or not hmac.compare_digest(
            client_secret.encode(), intent.client_secret.encode()
        ):
            raise parameter_invalid(
                "client_secret",
                "The client_secret provided does not match the client_secret associated with "
                "the PaymentIntent.",
            )
        return ClientPaymentIntent.of(intent)

    @_storage_failures_are_api_errors
    def list(
        self,
        /,
        *,
        customer: str | None = None,
        status: str | None = None,
        created: int | dict[str, int] | None = None,
        limit: int | None = None,
        starting_after: str | None = None,
        ending_before: str | None = None,
        **unknown: Any,
    ) -> Page[PaymentIntent]:
        """A page of intents, newest first, filtered by customer, status and creation time."""
        params = parse(
            ListParams,
            _given(
                unknown,
                customer=customer,
                status=status,
                created=created,
                limit=limit,
                starting_after=starting_after,
                ending_before=ending_before,
            ),
        )
        # No read may show a lapsed hold as capturable: expire the due ones (an index lookup).
        self.expire_authorizations()
        gte, lte = _created_bounds(params.created)
        query = ListQuery(
            limit=params.limit + 1,
            now=self.clock.now(),
            customer=params.customer,
            status=Status(params.status) if params.status else None,
            created_gte=gte,
            created_lte=lte,
            after=self._cursor(params.starting_after, "starting_after"),
            before=self._cursor(params.ending_before, "ending_before"),
        )
        found = self.store.list_intents(query)
        page = found[: params.limit]
        if query.before is not None:
            page.reverse()
        return Page(page, len(found) > params.limit)

    @_storage_failures_are_api_errors
    def events(self, starting_after: str | None = None, limit: int = 100) -> Page[Event]:
        """Committed events in commit order, oldest first, after the event id ``starting_after``."""
        params = parse(EventsParams, _given({}, starting_after=starting_after, limit=limit))
        position = 0
        if params.starting_after is not None:
            found = self.store.event_position(params.starting_after)
            if found is None:
                raise resource_missing("starting_after", "event", params.starting_after)
            position = found
        events = self.store.read_events(position, params.limit + 1)
        return Page(events[: params.limit], len(events) > params.limit)

    # -- the command loop ----------------------------------------------------------------------

    @_storage_failures_are_api_errors
    def _run(
        self,
        operation: str,
        intent_id: str | None,
        params: Any,
        idempotency_key: str | None,
        decide: Callable[[PaymentIntent | None, int], Change],
    ) -> PaymentIntent:
        key = _check_key(idempotency_key)
        fingerprint = _fingerprint(operation, intent_id, params) if key is not None else ""
        for _ in range(self.max_retries):
            now = self.clock.now()
            if key is not None:
                record = self.store.idempotency_record(key)
                if record is not None and record.expires_at > now:
                    return self._replay(record, key, fingerprint, now)
            intent = self._load(intent_id) if intent_id is not None else None
            try:
                change = decide(intent, now)
            except PaymentIntentError as error:
                if key is not None:
                    # A request with the same key may have committed between our look at the key
                    # and our load; its record commits with its state, so it is visible now.
                    record = self.store.idempotency_record(key)
                    if record is not None and record.expires_at > now:
                        return self._replay(record, key, fingerprint, now)
                if intent is not None and error.payment_intent is None:
                    error.payment_intent = intent
                raise
            record = None
            if key is not None:
                response = (
                    {"error": change.error.to_dict()}
                    if change.error is not None
                    else {"intent": change.intent.model_dump(mode="json")}
                )
                record = IdempotencyRecord(key, fingerprint, now, now + IDEMPOTENCY_TTL, response)
            commit = Commit(
                intent=change.intent,
                expected_version=intent.version if intent is not None else 0,
                events=self._events(change, now),
                idempotency=record,
            )
            try:
                self.store.commit(commit)
            except (IntegrityError, ConcurrencyError):  # the latter from stores of older ports
                continue
            if change.error is not None:
                raise change.error
            return change.intent
        raise ConcurrencyError(
            f"The request could not be completed after {self.max_retries} attempts because other "
            "requests kept changing this PaymentIntent. Retry it.",
            code="lock_timeout",
        )

    def _replay(
        self, record: IdempotencyRecord, key: str, fingerprint: str, now: int
    ) -> PaymentIntent:
        """The first result of a keyed request, unless it shows a hold that has lapsed since: no
        command ever returns a lapsed hold (possible only with a window under 24 hours)."""
        first = _replay(record, key, fingerprint)
        return self._load(first.id) if aggregate.is_due(first, now) else first

    @_storage_failures_are_api_errors
    def _load(self, intent_id: str) -> PaymentIntent:
        """The intent as it stands now: a hold that has lapsed is expired (and stored) first."""
        if not isinstance(intent_id, str) or not intent_id or len(intent_id) > MAX_ID_LENGTH:
            raise parameter_invalid(
                "intent", "The PaymentIntent id must be a string of 1 to 255 characters."
            )
        intent = self.store.load(intent_id)
        if intent is None:
            raise resource_missing("intent", "payment_intent", intent_id)
        return self._expire_if_due(intent)[0]

    def _expire_if_due(self, intent: PaymentIntent) -> tuple[PaymentIntent, bool]:
        """Expire a lapsed hold; returns the current intent and whether this call expired it."""
        if intent.status is not Status.REQUIRES_CAPTURE:  # only a hold can lapse
            return intent, False
        for _ in range(self.max_retries):
            now = self.clock.now()
            if not aggregate.is_due(intent, now):
                return intent, False
            change = aggregate.expire(intent, now)
            try:
                self.store.commit(Commit(change.intent, intent.version, self._events(change, now)))
                return change.intent, True
            except (IntegrityError, ConcurrencyError):  # the latter from stores of older ports
                reloaded = self.store.load(intent.id)
                assert reloaded is not None
                intent = reloaded
        raise ConcurrencyError(
            "Could not expire the hold: too many concurrent writes.", code="lock_timeout"
        )

    def _events(self, change: Change, now: int) -> tuple[Event, ...]:
        intent = change.intent
        # The domain built every value here, so the events skip validation.
        return tuple(
            trusted(
                Event,
                {
                    "id": event_id(intent.id, intent.version, index),
                    "type": event_type.value,
                    "created": now,
                    "intent_id": intent.id,
                    "intent_version": intent.version,
                    "data": intent,
                    "previous_attributes": previous,
                    "sequence": None,
                },
            )
            for index, (event_type, previous) in enumerate(change.events)
        )

    # -- payment attempts ----------------------------------------------------------------------

    def _method(self, payment_method_id: str | None) -> PaymentMethod | None:
        return self.processor.payment_method(payment_method_id) if payment_method_id else None

    def _attempt(self, intent: PaymentIntent) -> Attempt:
        """The attempt in flight on an intent (for the action and settlement helpers)."""
        method = self._method(intent.payment_method)
        if method is None:
            raise InvalidRequestError(
                "This PaymentIntent has no payment method in flight.",
                code="payment_intent_unexpected_state",
            )
        capture = self.profile.capture_method_for(intent, method.type)
        return Attempt(
            intent_id=intent.id,
            attempt_id=new_id("att"),
            payment_method=method,
            amount=intent.amount,
            currency=intent.currency,
            capture_manually=capture.value == "manual",
            return_url=intent.return_url,
        )

    def _confirm_change(self, intent: PaymentIntent, params: ConfirmParams, now: int) -> Change:
        method = self._method(params.payment_method or intent.payment_method)
        attached, attempt = aggregate.prepare_confirm(
            self.profile, intent, params, method, attempt_id=new_id("att")
        )
        outcome = self.processor.authorize(attempt)
        return self._apply(intent, attached, attempt, outcome, now, raise_decline=True)

    def _apply(
        self,
        before: PaymentIntent,
        attached: PaymentIntent,
        attempt: Attempt,
        outcome: Any,
        now: int,
        *,
        raise_decline: bool,
    ) -> Change:
        return aggregate.apply_outcome(
            self.profile,
            before,
            attached,
            attempt,
            outcome,
            now=now,
            charge_id=new_id("ch"),
            raise_decline=raise_decline,
        )

    def _cursor(self, intent_id: str | None, param: str) -> tuple[int, str] | None:
        if intent_id is None:
            return None
        cursor = self.store.load(intent_id)
        if cursor is None:
            raise resource_missing(param, "payment_intent", intent_id)
        return cursor.created, cursor.id

    @classmethod
    def from_url(cls, url: str, /, **kwargs: Any) -> PaymentIntents:
        """The service over the store a URL names: ``memory://``, ``sqlite:///path.db`` or
        ``postgresql://...`` (see :mod:`payment_intent.stores`); ``kwargs`` as for the class."""
        return cls(store_from_url(url), **kwargs)


def _created_bounds(created: int | CreatedFilter | None) -> tuple[int | None, int | None]:
    if created is None:
        return None, None
    if isinstance(created, int):
        return created, created
    lows = [
        v for v in (created.gte, None if created.gt is None else created.gt + 1) if v is not None
    ]
    highs = [
        v for v in (created.lte, None if created.lt is None else created.lt - 1) if v is not None
    ]
    return (max(lows) if lows else None), (min(highs) if highs else None)


def _check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str) or not key or len(key) > MAX_ID_LENGTH:
        raise parameter_invalid("idempotency_key", "Idempotency keys must be 1 to 255 characters.")
    return key


def _fingerprint(operation: str, intent_id: str | None, params: Any) -> str:
    body = json.dumps(
        [operation, intent_id, params.model_dump(mode="json", exclude_unset=True)], sort_keys=True
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _replay(record: IdempotencyRecord, key: str, fingerprint: str) -> PaymentIntent:
    if not hmac.compare_digest(record.fingerprint, fingerprint):
        raise IdempotencyError(
            "Keys for idempotent requests can only be used with the same parameters they were "
            f"first used with. Try using a key other than '{key}' if you meant to execute a "
            "different request.",
            code="idempotency_key_reused",
            param="idempotency_key",
        )
    if "error" in record.response:
        raise PaymentIntentError.from_dict(record.response["error"])
    return PaymentIntent.model_validate(record.response["intent"])
