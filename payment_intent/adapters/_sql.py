"""What the SQL stores share: the row shape of an intent, an event, an idempotency record, a
claim and a refund's index entry, and the queries that serve a list page.

SQLite and PostgreSQL differ only in their placeholder (``?`` / ``%s``) and in a few DDL words, so
the rules that must agree between them (which columns are indexed, how a page is cut, how ties are
broken, when a hold counts as lapsed) are written once, here.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic_core import PydanticSerializationError, to_json

from payment_intent.domain.model import Event, PaymentIntent
from payment_intent.domain.status import Status
from payment_intent.ports import (
    Claim,
    Commit,
    IdempotencyRecord,
    IntegrityError,
    ListQuery,
    RefundQuery,
)

#: The status whose intents the expiry sweep visits; a literal in SQL so partial indexes apply.
HELD = Status.REQUIRES_CAPTURE.value
CANCELED = Status.CANCELED.value

#: What a value the database cannot hold raises while a row is being made: a lone surrogate
#: cannot be encoded as UTF-8 (by pydantic or the driver), an integer may not fit 64 bits.
UNREPRESENTABLE = (UnicodeError, OverflowError, PydanticSerializationError)

IntentRow = tuple[str, int, int, str | None, str, int | None, str]
ClaimRow = tuple[str, str, int, str, str, str | None, str, int, int]
RefundRow = tuple[str, str, str, int]

CLAIM_COLUMNS = (
    "intent_id, attempt_id, expected_version, operation, params, idempotency_key, fingerprint,"
    " created, expires_at"
)


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


def event_row(event: Event) -> tuple[str, str, int, str, int, str]:
    """``(id, intent_id, intent_version, type, created, body)``; the sequence is the store's."""
    return (
        event.id,
        event.intent_id,
        event.intent_version,
        event.type,
        event.created,
        event.model_dump_json(exclude={"sequence"}),
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


def claim_row(claim: Claim) -> ClaimRow:
    """The claim's columns in the order of ``CLAIM_COLUMNS``, ``params`` as JSON."""
    return (
        claim.intent_id,
        claim.attempt_id,
        claim.expected_version,
        claim.operation,
        to_json(claim.params).decode(),
        claim.idempotency_key,
        claim.fingerprint,
        claim.created,
        claim.expires_at,
    )


def load_claim(row: tuple[Any, ...]) -> Claim:
    intent_id, attempt_id, expected, operation, params, key, fingerprint, created, expires = row
    return Claim(
        intent_id=intent_id,
        attempt_id=attempt_id,
        expected_version=int(expected),
        operation=operation,
        params=json.loads(params),
        idempotency_key=key,
        fingerprint=fingerprint,
        created=int(created),
        expires_at=int(expires),
    )


def list_sql(
    query: ListQuery,
    placeholder: str,
    received: str,
    body: str = "body",
    lapsed_index: str = "",
    limit_each_arm: bool = False,
) -> tuple[str, list[Any]]:
    """The SELECT for one list page, returning ``(created, id, body)`` rows, and its parameters.

    Equality filters come first and ``(created, id)`` last, matching the indexes
    ``(created, id)``, ``(customer, created, id)``, ``(status, created, id)`` and
    ``(customer, status, created, id)``: a page is a bounded walk of one index, whatever the table
    holds. The cursors are row-value comparisons, which both databases answer from the index.

    A hold whose ``capture_before_at`` is at or before ``query.now`` has lapsed: it counts as
    canceled, or as succeeded when part of it was captured (``received``, the database's
    expression for the body's ``amount_received``, is above 0). ``requires_capture`` walks its
    index past the lapsed holds; ``canceled`` and ``succeeded`` are the union of their own index
    walk and the lapsed holds found through the partial expiry index (``lapsed_index`` names it for
    SQLite; ``limit_each_arm`` gives each arm its own ORDER BY and LIMIT, for PostgreSQL). Either
    way the extra rows are the holds the sweep has not yet expired, which it keeps few.
    """
    p = placeholder
    # ``before`` walks up from the cursor (oldest first); the service turns the page around.
    direction = "ASC" if query.before is not None else "DESC"
    order = f" ORDER BY created {direction}, id {direction} LIMIT {p}"

    def select(status: str, params: list[Any], index: str = "") -> tuple[str, list[Any]]:
        """One SELECT of the page's rows, under ``status`` (a condition, maybe empty)."""
        where, params = [status] if status else [], list(params)
        if query.customer is not None:
            where.append(f"customer = {p}")
            params.append(query.customer)
        if query.created_gte is not None:
            where.append(f"created >= {p}")
            params.append(query.created_gte)
        if query.created_lte is not None:
            where.append(f"created <= {p}")
            params.append(query.created_lte)
        cursors, cursor_params = _cursors(query.after, query.before, p)
        where.extend(cursors)
        params.extend(cursor_params)
        sql = f"SELECT created, id, {body} AS body FROM payment_intents{index}" + (
            " WHERE " + " AND ".join(where) if where else ""
        )
        return sql, params

    if query.status in (Status.CANCELED, Status.SUCCEEDED):
        # Both arms come out in page order (the first from its index, the second sorted from the
        # few lapsed holds), and the union stops once the page is full. SQLite's union merges
        # its arms lazily; PostgreSQL's planner walks the index only for an arm with its own
        # ORDER BY and LIMIT, and would otherwise read every canceled intent and sort them.
        ended, ended_params = select(f"status = '{Status(query.status).value}'", [])
        captured = "=" if query.status is Status.CANCELED else ">"
        lapsed, lapsed_params = select(
            f"status = '{HELD}' AND capture_before_at <= {p} AND {received} {captured} 0",
            [query.now],
            f" {lapsed_index}" if lapsed_index else "",
        )
        if limit_each_arm:
            sql = f"({ended}{order}) UNION ALL ({lapsed}{order}){order}"
            params = [*ended_params, query.limit, *lapsed_params, query.limit]
            return sql, [*params, query.limit]
        sql = f"{ended} UNION ALL {lapsed}{order}"
        return sql, [*ended_params, *lapsed_params, query.limit]
    if query.status is Status.REQUIRES_CAPTURE:
        status = f"status = '{HELD}' AND (capture_before_at IS NULL OR capture_before_at > {p})"
        sql, params = select(status, [query.now])
    elif query.status is not None:
        sql, params = select(f"status = {p}", [Status(query.status).value])
    else:
        sql, params = select("", [])
    return sql + order, [*params, query.limit]


def refund_rows(intent: PaymentIntent) -> list[RefundRow]:
    """``(id, intent_id, charge_id, created)`` of every refund the intent holds: the index entries
    a commit of the intent writes where they are missing. None of the four ever changes, so an
    entry written once stays right for every later version of the refund."""
    return [(refund.id, intent.id, refund.charge, refund.created) for refund in intent.refunds]


def _cursors(
    after: tuple[int, str] | None, before: tuple[int, str] | None, p: str
) -> tuple[list[str], list[Any]]:
    """A page's cursor conditions on ``(created, id)`` and their parameters: row-value
    comparisons, which both databases answer from the index."""
    where: list[str] = []
    params: list[Any] = []
    if after is not None:
        where.append(f"(created, id) < ({p}, {p})")
        params.extend(after)
    if before is not None:
        where.append(f"(created, id) > ({p}, {p})")
        params.extend(before)
    return where, params


def refunds_sql(query: RefundQuery, placeholder: str) -> tuple[str, list[Any]]:
    """The SELECT for one page of refunds, returning ``(id, intent_id)`` rows, and its parameters.

    As for intents, equality filters come first and ``(created, id)`` last, matching the indexes
    ``(created, id)``, ``(intent_id, created, id)`` and ``(charge_id, created, id)``, each of which
    also carries the other columns a page needs: a page is a bounded walk of one index. Both
    filters at once walk either of the two (a charge has one intent, so either walk reads the
    charge's refunds at most).
    """
    p = placeholder
    where: list[str] = []
    params: list[Any] = []
    if query.payment_intent is not None:
        where.append(f"intent_id = {p}")
        params.append(query.payment_intent)
    if query.charge is not None:
        where.append(f"charge_id = {p}")
        params.append(query.charge)
    cursors, cursor_params = _cursors(query.after, query.before, p)
    where.extend(cursors)
    params.extend(cursor_params)
    # ``before`` walks up from the cursor (oldest first); the service turns the page around.
    direction = "ASC" if query.before is not None else "DESC"
    sql = (
        "SELECT id, intent_id FROM payment_intent_refunds"
        + (" WHERE " + " AND ".join(where) if where else "")
        + f" ORDER BY created {direction}, id {direction} LIMIT {p}"
    )
    return sql, [*params, query.limit]


def check_claim_shape(commit: Commit) -> None:
    """A commit that takes a claim writes nothing else: the claim is the whole of the first of a
    claimer's two commits."""
    if commit.claim is not None and (
        commit.intent or commit.events or commit.idempotency or commit.settles
    ):
        raise ValueError("A commit that takes a claim writes nothing else (only Commit.claim).")


def version_conflict(intent_id: str, expected: int) -> IntegrityError:
    return IntegrityError(
        f"PaymentIntent {intent_id} is not at version {expected}, or another request's claim "
        "holds it: another request changed it first."
    )


def key_conflict(key: str) -> IntegrityError:
    return IntegrityError(
        f"Idempotency key {key!r} was used, or is claimed, by a concurrent request."
    )


def settled_conflict(claim: Claim) -> IntegrityError:
    return IntegrityError(
        f"The claim of attempt {claim.attempt_id} on PaymentIntent {claim.intent_id} is no "
        "longer held."
    )


def claim_conflict(claim: Claim) -> IntegrityError:
    return IntegrityError(
        f"PaymentIntent {claim.intent_id} could not be claimed at version "
        f"{claim.expected_version}: it is at another version, already claimed, or its "
        "idempotency key is taken."
    )


def bad_version(intent: PaymentIntent, expected: int) -> IntegrityError:
    return IntegrityError(
        f"PaymentIntent {intent.id} version {intent.version} cannot follow version {expected}."
    )
