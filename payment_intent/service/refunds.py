"""The refund operations of the service: create, read, list, edit, cancel, and settle in test mode.

A refund lives in its intent's aggregate; the store's refund index finds the intent that holds a
refund, and pages through refunds newest first. Each change to a refund is a command on that intent,
as is a change to one of its charges' metadata.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from payment_intent.domain import refunds
from payment_intent.domain.errors import resource_missing
from payment_intent.domain.model import PaymentIntent, Refund
from payment_intent.domain.params import (
    ChargeEdit,
    ChargeUpdateParams,
    IncrementParams,
    RefundEdit,
    RefundListParams,
    RefundParams,
    RefundUpdateParams,
    parse,
)
from payment_intent.domain.params import intent_id as checked_id
from payment_intent.domain.profiles import Profile
from payment_intent.ports import RefundQuery, Store
from payment_intent.service.boundary import Page, given, storage_errors


class RefundOperations:
    """Refunds and incremental authorization, as methods of
    :class:`~payment_intent.service.intents.PaymentIntents`."""

    store: Store
    #: The provider's rules, which a refund reason is checked against (PaymentIntents provides it).
    profile: Profile
    #: Runs one command through the service's command loop (PaymentIntents provides it).
    _run: Callable[[str, Any, Any, str | None], PaymentIntent]

    def refund(
        self,
        intent_id: str,
        /,
        *,
        amount: int | None = None,
        reason: str | None = None,
        metadata: dict[str, str] | None = None,
        idempotency_key: str | None = None,
        **extra: Any,
    ) -> Refund:
        """Send back ``amount`` (all that is left by default) of what the intent collected.

        :param reason: CasaPay: ``duplicate``, ``fraudulent`` or ``requested_by_customer``;
            PayRex: its own list. ``expired_uncaptured_charge`` is the library's alone.
        :param extra: PayRex's ``currency``, ``description`` and ``remarks``.
        :raises InvalidRequestError: nothing was collected, or the amount exceeds what is left.
        """
        params = parse(RefundParams, given(extra, amount=amount, reason=reason, metadata=metadata))
        # A word the provider does not know is refused before the intent is read, as every
        # malformed parameter is: a lapsed hold is not expired by a request that changes nothing.
        self.profile.check_refund_reason(params.reason)
        after = self._run("refund", intent_id, params, idempotency_key)
        # The refund a command creates is its version's newest; a replay returns that version.
        return after.refunds[-1]

    def increment_authorization(
        self,
        intent_id: str,
        /,
        *,
        amount: int | None = None,
        description: str | None = None,
        metadata: dict[str, str] | str | None = None,
        idempotency_key: str | None = None,
        **unknown: Any,
    ) -> PaymentIntent:
        """Raise a hold granted incremental authorization to the new total ``amount``.

        :raises CardError: the processor declined the increment; the hold stays as it was.
        """
        params = parse(
            IncrementParams,
            given(unknown, amount=amount, description=description, metadata=metadata),
        )
        return self._run("increment_authorization", intent_id, params, idempotency_key)

    @storage_errors
    def retrieve_refund(self, refund_id: str, /) -> Refund:
        """Read a refund by its id."""
        return refunds.find(self._owner(refund_id, "refund"), refund_id)

    @storage_errors
    def list_refunds(
        self,
        /,
        *,
        payment_intent: str | None = None,
        charge: str | None = None,
        limit: int | None = None,
        starting_after: str | None = None,
        ending_before: str | None = None,
        **unknown: Any,
    ) -> Page[Refund]:
        """A page of refunds, newest first, of one intent or one charge, or of all."""
        params = parse(
            RefundListParams,
            given(
                unknown,
                payment_intent=payment_intent,
                charge=charge,
                limit=limit,
                starting_after=starting_after,
                ending_before=ending_before,
            ),
        )
        query = RefundQuery(
            limit=params.limit + 1,
            payment_intent=params.payment_intent,
            charge=params.charge,
            after=self._refund_cursor(params.starting_after, "starting_after"),
            before=self._refund_cursor(params.ending_before, "ending_before"),
        )
        found = self.store.list_refunds(query)
        page = [
            refunds.find(self._load(intent_id), refund_id)
            for refund_id, intent_id in found[: params.limit]
        ]
        if query.before is not None:
            page.reverse()
        return Page(page, len(found) > params.limit)

    def update_refund(
        self,
        refund_id: str,
        /,
        *,
        metadata: dict[str, str] | str | None = None,
        idempotency_key: str | None = None,
        **extra: Any,
    ) -> Refund:
        """Change a refund's metadata (PayRex: also its ``description`` and ``remarks``)."""
        changes = parse(RefundUpdateParams, given(extra, metadata=metadata))
        return self._edit(refund_id, RefundEdit(refund=refund_id, changes=changes), idempotency_key)

    def cancel_refund(self, refund_id: str, /, *, idempotency_key: str | None = None) -> Refund:
        """Withdraw a refund still pending; its amount counts as collected again."""
        edit = RefundEdit(refund=checked_id(refund_id, "refund"), move="cancel")
        return self._edit(refund_id, edit, idempotency_key)

    def settle_refund(
        self, refund_id: str, /, *, succeed: bool = True, idempotency_key: str | None = None
    ) -> Refund:
        """Test mode: a pending refund (an asynchronous method's) succeeds or fails."""
        edit = RefundEdit(
            refund=checked_id(refund_id, "refund"), move="succeed" if succeed else "fail"
        )
        return self._edit(refund_id, edit, idempotency_key)

    def update_charge(
        self,
        intent_id: str,
        /,
        *,
        charge: str,
        metadata: dict[str, str] | str | None = None,
        idempotency_key: str | None = None,
        **unknown: Any,
    ) -> PaymentIntent:
        """Change the metadata of the intent's charge ``charge`` (PayRex's Payment update)."""
        changes = parse(ChargeUpdateParams, given(unknown, metadata=metadata))
        edit = ChargeEdit(charge=checked_id(charge, "charge"), changes=changes)
        return self._run("update_charge", intent_id, edit, idempotency_key)

    def _edit(self, refund_id: str, edit: RefundEdit, idempotency_key: str | None) -> Refund:
        operation = {None: "update_refund", "cancel": "cancel_refund"}.get(
            edit.move, "settle_refund"
        )
        owner = self._owner(refund_id, "refund")
        after = self._run(operation, owner.id, edit, idempotency_key)
        return refunds.find(after, edit.refund)

    def _owner(self, refund_id: str, param: str) -> PaymentIntent:
        intent_id = self.store.refund_owner(checked_id(refund_id, param))
        if intent_id is None:
            raise resource_missing(param, "refund", refund_id)
        return self._load(intent_id)

    def _load(self, intent_id: str) -> PaymentIntent:
        intent = self.store.load(intent_id)
        if intent is None:
            raise resource_missing("refund", "payment_intent", intent_id)
        return intent

    def _refund_cursor(self, refund_id: str | None, param: str) -> tuple[int, str] | None:
        if refund_id is None:
            return None
        cursor = refunds.find(self._owner(refund_id, param), refund_id)
        return cursor.created, cursor.id
