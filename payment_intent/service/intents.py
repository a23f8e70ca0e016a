"""The PaymentIntent service: one method per operation.

Each method validates its parameters into the operation's model and hands the command to the
:class:`~payment_intent.service.loop.CommandLoop`. Reads show every intent as of the clock's time
(a lapsed hold is shown canceled before the sweep writes it out). The store's own failures come
back as :class:`~payment_intent.errors.StorageUnavailableError`, which says the request may be
retried.
"""

from __future__ import annotations

import hmac
from typing import Any, overload

from payment_intent.adapters.clocks import SystemClock
from payment_intent.adapters.simulated import SimulatedProcessor
from payment_intent.domain import expiry
from payment_intent.domain.errors import (
    parameter_invalid,
    resource_missing,
)
from payment_intent.domain.model import ClientPaymentIntent, Event, PaymentIntent
from payment_intent.domain.params import (
    CancelParams,
    CaptureParams,
    ConfirmParams,
    CreatedFilter,
    CreateParams,
    EventsParams,
    ListParams,
    OutcomeParams,
    RetrieveParams,
    UpdateParams,
    parse,
)
from payment_intent.domain.params import (
    intent_id as checked_id,
)
from payment_intent.domain.profiles import Profile, get_profile
from payment_intent.domain.status import Status
from payment_intent.ports import (
    Clock,
    ListQuery,
    Processor,
    Store,
)
from payment_intent.service import sweep
from payment_intent.service.boundary import Page, storage_errors
from payment_intent.service.boundary import given as _given
from payment_intent.service.commands import Command, Context
from payment_intent.service.loop import CommandLoop, Timing
from payment_intent.service.refunds import RefundOperations
from payment_intent.stores import default_store, store_from_url


class PaymentIntents(RefundOperations):
    """The PaymentIntent service: every operation, over a store, a clock and a processor.

    Every argument is optional: the store named by ``PAYMENT_INTENT_STORE`` (in-memory when it is
    unset), the system clock, the simulated processor and the CasaPay profile are the defaults.

    :param store: where intents, events and idempotency records live.
    :param clock: where time comes from.
    :param processor: who decides each payment attempt.
    :param profile: ``"casapay"``, ``"payrex"`` or a
        :class:`~payment_intent.domain.profiles.Profile`.
    :param livemode: whether intents are live-mode ones.
    :param max_retries: how many lost races a command retries before it answers ``lock_timeout``.
    :param claim_lease: seconds (by ``clock``) after which an attempt whose process vanished
        between asking the processor and recording the answer is settled by the next command.
    :param claim_wait: real seconds a request waits for another's attempt on the same intent.
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
        claim_lease: int = 60,
        claim_wait: float = 10.0,
    ) -> None:
        self.store: Store = store if store is not None else default_store()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.processor: Processor = processor if processor is not None else SimulatedProcessor()
        self.profile: Profile = get_profile(profile)
        self.livemode = livemode
        self.loop = CommandLoop(
            self.store,
            self.clock,
            self.processor,
            Context(self.profile, self.processor, livemode),
            max_retries=max_retries,
            timing=Timing(claim_lease, claim_wait),
        )

    @storage_errors
    def _run(
        self, operation: str, intent_id: Any, params: Any, idempotency_key: str | None
    ) -> PaymentIntent:
        checked = checked_id(intent_id) if operation != "create" else None
        return self.loop.run(Command(operation, checked, params, idempotency_key))

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
        metadata: dict[str, str] | str | None = None,
        statement_descriptor: str | None = None,
        statement_descriptor_suffix: str | None = None,
        payment_method_options: dict[str, Any] | None = None,
        payment_method_data: dict[str, Any] | None = None,
        receipt_email: str | None = None,
        shipping: dict[str, Any] | None = None,
        setup_future_usage: str | None = None,
        off_session: bool | str | None = None,
        error_on_requires_action: bool | None = None,
        idempotency_key: str | None = None,
        **unknown: Any,
    ) -> PaymentIntent:
        """Create an intent; with ``confirm=True`` also attempt the payment in the same request.

        :param amount: in the currency's minor unit (cents), within the profile's bounds.
        :param currency: an ISO 4217 code (PayRex: ``php`` only).
        :param payment_method: a method to attach now (the intent then requires confirmation).
        :param capture_method: ``automatic`` (default) or ``manual``: hold now, capture later.
        :param confirm: attempt the payment at once.
        :param idempotency_key: a retry with the same key returns the first result.
        :raises InvalidRequestError: a parameter is missing, unknown or invalid.
        :raises CardError: the attempt made with ``confirm=True`` was declined (and recorded).
        """
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
            statement_descriptor_suffix=statement_descriptor_suffix,
            payment_method_options=payment_method_options,
            payment_method_data=payment_method_data,
            receipt_email=receipt_email,
            shipping=shipping,
            setup_future_usage=setup_future_usage,
            off_session=off_session,
            error_on_requires_action=error_on_requires_action,
        )
        return self._run("create", None, parse(CreateParams, given), idempotency_key)

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
        metadata: dict[str, str] | str | None = None,
        statement_descriptor_suffix: str | None = None,
        customer: str | None = None,
        receipt_email: str | None = None,
        shipping: dict[str, Any] | str | None = None,
        setup_future_usage: str | None = None,
        idempotency_key: str | None = None,
        **unknown: Any,
    ) -> PaymentIntent:
        """Change an intent: payment terms only before it is paid, description and metadata after.

        An empty string clears ``description``, ``receipt_email``, ``shipping``,
        ``setup_future_usage`` and ``statement_descriptor_suffix``; an empty metadata value removes
        that key, and ``metadata=""`` removes them all.

        :raises InvalidRequestError: ``payment_intent_unexpected_state`` naming the refused field
            when the status no longer lets it change.
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
            statement_descriptor_suffix=statement_descriptor_suffix,
            customer=customer,
            receipt_email=receipt_email,
            shipping=shipping,
            setup_future_usage=setup_future_usage,
        )
        return self._run("update", intent_id, parse(UpdateParams, given), idempotency_key)

    def confirm(
        self,
        intent_id: str,
        /,
        *,
        payment_method: str | None = None,
        return_url: str | None = None,
        payment_method_data: dict[str, Any] | None = None,
        receipt_email: str | None = None,
        shipping: dict[str, Any] | str | None = None,
        setup_future_usage: str | None = None,
        off_session: bool | str | None = None,
        error_on_requires_action: bool | None = None,
        payment_method_options: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        **unknown: Any,
    ) -> PaymentIntent:
        """Attempt the payment; the processor decides the outcome.

        :param payment_method: the method to pay with (else the attached one).
        :param return_url: where a redirect (3-D Secure, a wallet) returns the customer.
        :param off_session: the customer is not present: an authentication is a decline.
        :param error_on_requires_action: decline instead of asking for an authentication.
        :param payment_method_options: replaces the intent's; CasaPay cards may request
            ``request_multicapture``, ``request_overcapture``,
            ``request_incremental_authorization`` and ``request_extended_authorization``
            (``if_available`` or ``never``).
        :raises CardError: the attempt was declined; the decline is recorded on the intent.
        """
        given = _given(
            unknown,
            payment_method=payment_method,
            return_url=return_url,
            payment_method_data=payment_method_data,
            receipt_email=receipt_email,
            shipping=shipping,
            setup_future_usage=setup_future_usage,
            off_session=off_session,
            error_on_requires_action=error_on_requires_action,
            payment_method_options=payment_method_options,
        )
        return self._run("confirm", intent_id, parse(ConfirmParams, given), idempotency_key)

    def capture(
        self,
        intent_id: str,
        /,
        *,
        amount_to_capture: int | None = None,
        metadata: dict[str, str] | str | None = None,
        final_capture: bool | None = None,
        idempotency_key: str | None = None,
        **unknown: Any,
    ) -> PaymentIntent:
        """Collect all (by default) or part of an authorized hold; the rest is released.

        :param amount_to_capture: at most ``amount_capturable`` (PayRex: required, ≥ 2,000); up
            to the charge's ``maximum_amount_capturable`` when overcapture was granted.
        :param metadata: merged into the intent's metadata with the capture.
        :param final_capture: ``False`` keeps the rest of a multicapture hold for later captures
            (CasaPay, when multicapture was granted).
        """
        params = parse(
            CaptureParams,
            _given(
                unknown,
                amount_to_capture=amount_to_capture,
                metadata=metadata,
                final_capture=final_capture,
            ),
        )
        return self._run("capture", intent_id, params, idempotency_key)

    def cancel(
        self,
        intent_id: str,
        /,
        *,
        cancellation_reason: str | None = None,
        idempotency_key: str | None = None,
        **unknown: Any,
    ) -> PaymentIntent:
        """Cancel an intent that can still be canceled under the profile, releasing any hold.

        :param cancellation_reason: ``duplicate``, ``fraudulent``, ``requested_by_customer`` or
            ``abandoned``.
        """
        params = parse(CancelParams, _given(unknown, cancellation_reason=cancellation_reason))
        return self._run("cancel", intent_id, params, idempotency_key)

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
        return self._run("complete_action", intent_id, params, idempotency_key)

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
        return self._run("settle", intent_id, params, idempotency_key)

    @storage_errors
    def expire_authorizations(self) -> list[PaymentIntent]:
        """Write out the expiry of every hold past ``capture_before_at``; touches only those,
        found by index. Reads show such holds canceled already; run this periodically so their
        ``payment_intent.canceled`` events are emitted and stored."""
        return sweep.expire_authorizations(self.store, self.clock)

    # -- reads ---------------------------------------------------------------------------------

    @overload
    def retrieve(self, intent_id: str, /) -> PaymentIntent: ...

    @overload
    def retrieve(self, intent_id: str, /, *, client_secret: str) -> ClientPaymentIntent: ...

    @storage_errors
    def retrieve(
        self, intent_id: str, /, *, client_secret: str | None = None, **unknown: Any
    ) -> PaymentIntent | ClientPaymentIntent:
        """Read an intent; with ``client_secret``, only the fields a browser may see."""
        params = parse(RetrieveParams, _given(unknown, client_secret=client_secret))
        found = self.store.load(checked_id(intent_id))
        if found is None:
            raise resource_missing("intent", "payment_intent", intent_id)
        intent = expiry.as_of(found, self.clock.now())
        if params.client_secret is None:
            return intent
        if not hmac.compare_digest(params.client_secret.encode(), intent.client_secret.encode()):
            raise parameter_invalid(
                "client_secret",
                "The client_secret provided does not match the client_secret associated with "
                "the PaymentIntent.",
            )
        return ClientPaymentIntent.of(intent)

    @storage_errors
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
        """A page of intents, newest first, filtered by customer, status and creation time.

        A page reads only its own rows: a hold that has lapsed is shown (and filtered) as
        canceled whether or not the sweep has written its expiry out yet.
        """
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
        now = self.clock.now()
        gte, lte = _created_bounds(params.created)
        query = ListQuery(
            limit=params.limit + 1,
            now=now,
            customer=params.customer,
            status=Status(params.status) if params.status else None,
            created_gte=gte,
            created_lte=lte,
            after=self._cursor(params.starting_after, "starting_after"),
            before=self._cursor(params.ending_before, "ending_before"),
        )
        found = self.store.list_intents(query)
        page = [expiry.as_of(intent, now) for intent in found[: params.limit]]
        if query.before is not None:
            page.reverse()
        return Page(page, len(found) > params.limit)

    @storage_errors
    def events(
        self, starting_after: str | None = None, limit: int = 100, **unknown: Any
    ) -> Page[Event]:
        """Committed events in commit order, oldest first, after the event id ``starting_after``."""
        params = parse(EventsParams, _given(unknown, starting_after=starting_after, limit=limit))
        position = 0
        if params.starting_after is not None:
            found = self.store.event_position(params.starting_after)
            if found is None:
                raise resource_missing("starting_after", "event", params.starting_after)
            position = found
        events = self.store.read_events(position, params.limit + 1)
        return Page(events[: params.limit], len(events) > params.limit)

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
