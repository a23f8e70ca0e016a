"""A store that hands every call to the store it wraps: the base of the kit's stores that change
one or two calls (one that fails on purpose, one that lets racing threads interleave) and leave the
rest as they are."""

from __future__ import annotations

from payment_intent.domain.model import Event, PaymentIntent
from payment_intent.ports import (
    Claim,
    Commit,
    IdempotencyRecord,
    ListQuery,
    RefundQuery,
    Store,
)


class WrappedStore:
    """Every ``Store`` call, passed to ``store`` as it is; override the ones to change.

    It is a plain ``Store`` even over a batch-writing one: the calls it does not know
    (``commit_many``) are not passed on, so every commit goes through :meth:`commit`.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def load(self, intent_id: str) -> PaymentIntent | None:
        return self.store.load(intent_id)

    def commit(self, commit: Commit) -> None:
        self.store.commit(commit)

    def idempotency_record(self, key: str) -> IdempotencyRecord | None:
        return self.store.idempotency_record(key)

    def claim(self, intent_id: str) -> Claim | None:
        return self.store.claim(intent_id)

    def claim_for_key(self, key: str) -> Claim | None:
        return self.store.claim_for_key(key)

    def purge_idempotency(self, now: int, limit: int) -> int:
        return self.store.purge_idempotency(now, limit)

    def list_intents(self, query: ListQuery) -> list[PaymentIntent]:
        return self.store.list_intents(query)

    def due_authorizations(self, now: int, limit: int) -> list[str]:
        return self.store.due_authorizations(now, limit)

    def refund_owner(self, refund_id: str) -> str | None:
        return self.store.refund_owner(refund_id)

    def list_refunds(self, query: RefundQuery) -> list[tuple[str, str]]:
        return self.store.list_refunds(query)

    def event_position(self, event_id: str) -> int | None:
        return self.store.event_position(event_id)

    def read_events(self, after_sequence: int, limit: int) -> list[Event]:
        return self.store.read_events(after_sequence, limit)

    def close(self) -> None:
        self.store.close()
