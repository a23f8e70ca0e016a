"""What the SQL stores share: the row shape of an intent, an event and an idempotency record, and
the one query that serves a list page.

SQLite and PostgreSQL differ only in their placeholder (``?`` / ``%s``) and in a few DDL words, so
the rules that must agree between them (which columns are indexed, how a page is cut, how ties are
broken) are written once, here.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic_core import to_json

from payment_intent.domain.errors import ConcurrencyError
from payment_intent.domain.model import Event, PaymentIntent
from payment_intent.domain.status import Status
from payment_intent.ports import IdempotencyRecord, ListQuery

#: The status whose intents the expiry sweep visits; a literal in SQL so partial indexes apply.
HELD = Status.REQUIRES_CAPTURE.value

IntentRow = tuple[str, int, int, str | None, str, int | None, str]


def intent_row(intent: PaymentIntent) -> IntentRow:
    """``(id, version, created, customer, status, capture_before_at, body)`` for one intent.

    ``capture_before_at`` is kept in its column only while the hold is live, which is what the
    partial expiry index needs; the full value always stays in ``body``.
    """
    due = intent.capture_before_at if intent.status is Status.REQUIRES_CAPTURE else None
    return (
        intent.id,
        intent.version,
        intent.created,
        intent.customer,
        intent.status.value,
        due,
        intent.model_dump_json(),
    )


def event_row(
    event: Event, intent: PaymentIntent | None = None, intent_json: str | None = None
) -> tuple[str, str, int, str, int, str]:
    """``(id, intent_id, intent_version, type, created, body)``; the sequence is the store's.

    An event's ``data`` is the intent it reports, usually the very intent of the same commit:
    passing that intent and its JSON (``intent_row``'s body) splices the text in instead of
    serialising the same intent a second time.
    """
    data = intent_json if intent is not None and event.data is intent else None
    if data is None:
        data = event.data.model_dump_json()
    rest = to_json(
        {
            "id": event.id,
            "type": event.type,
            "created": event.created,
            "intent_id": event.intent_id,
            "intent_version": event.intent_version,
            "previous_attributes": event.previous_attributes,
        }
    ).decode()
    return (
        event.id,
        event.intent_id,
        event.intent_version,
        event.type,
        event.created,
        f'{{"data":{data},{rest[1:]}',
    )


def load_event(sequence: int, body: str) -> Event:
    return Event.model_validate_json(body).model_copy(update={"sequence": sequence})


def record_row(record: IdempotencyRecord) -> tuple[str, str, int, int, str]:
    """``(key, fingerprint, created, expires_at, response)``."""
    return (
        record.key,
        record.fingerprint,
        record.created,
        record.expires_at,
        to_json(record.response).decode(),
    )


def load_record(row: tuple[Any, ...]) -> IdempotencyRecord:
    key, fingerprint, created, expires_at, response = row
    return IdempotencyRecord(
        key=key,
        fingerprint=fingerprint,
        created=int(created),
        expires_at=int(expires_at),
        response=json.loads(response),
    )


def list_sql(query: ListQuery, placeholder: str, body: str = "body") -> tuple[str, list[Any]]:
    """The SELECT for one list page and its parameters.

    Equality filters come first and ``(created, id)`` last, matching the indexes
    ``(created, id)``, ``(customer, created, id)``, ``(status, created, id)`` and
    ``(customer, status, created, id)``: a page is a bounded walk of one index, whatever the table
    holds. The cursors are row-value comparisons, which both databases answer from the index.
    """
    where: list[str] = []
    params: list[Any] = []
    if query.customer is not None:
        where.append(f"customer = {placeholder}")
        params.append(query.customer)
    if query.status is not None:
        where.append(f"status = {placeholder}")
        params.append(Status(query.status).value)
    if query.created_gte is not None:
        where.append(f"created >= {placeholder}")
        params.append(query.created_gte)
    if query.created_lte is not None:
        where.append(f"created <= {placeholder}")
        params.append(query.created_lte)
    if query.after is not None:
        where.append(f"(created, id) < ({placeholder}, {placeholder})")
        params.extend(query.after)
    if query.before is not None:
        where.append(f"(created, id) > ({placeholder}, {placeholder})")
        params.extend(query.before)
    # ``before`` walks up from the cursor (oldest first); the service turns the page around.
    direction = "ASC" if query.before is not None else "DESC"
    sql = (
        f"SELECT {body} FROM payment_intents"
        + (" WHERE " + " AND ".join(where) if where else "")
        + f" ORDER BY created {direction}, id {direction} LIMIT {placeholder}"
    )
    params.append(query.limit)
    return sql, params


def version_conflict(intent_id: str, expected: int) -> ConcurrencyError:
    return ConcurrencyError(
        f"PaymentIntent {intent_id} is not at version {expected}: another request changed it "
        "first.",
        code="concurrent_modification",
    )


def key_conflict(key: str) -> ConcurrencyError:
    return ConcurrencyError(
        f"Idempotency key {key!r} was used by a concurrent request.",
        code="concurrent_modification",
    )


def bad_version(intent: PaymentIntent, expected: int) -> ConcurrencyError:
    return ConcurrencyError(
        f"PaymentIntent {intent.id} version {intent.version} cannot follow version {expected}.",
        code="concurrent_modification",
    )
