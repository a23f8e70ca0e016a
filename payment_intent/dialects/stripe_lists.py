"""Stripe's search and events list, answered over the store's existing reads.

**Search** (``GET /v1/payment_intents/search``) reads through ``Store.list_intents``, which pages
newest first through an index on customer, status and creation time. Each alternative of the query
hands the index the clauses it can answer (``customer:``, ``status:``, ``created`` bounds, when not
negated), and the other clauses (``amount``, ``currency``, ``metadata``) are checked on the rows
the index returns. So a query with an indexed clause costs what its index range holds; a query of
unindexed clauses only is a scan, newest first. Either way one page reads at most
:data:`SCAN_BUDGET` rows: when the budget runs out before the page is full, the page ends there
with ``has_more`` and a ``next_page`` that resumes the scan, as Stripe's search pages may.

**Events** (``GET /v1/events``) newest first, filtered by type and creation time. The store keeps
events in commit order and reads them forwards from a position (``read_events``); it has no read
backwards and no index by type. Listing newest first therefore reads the feed forwards in chunks up
to the cursor and keeps the newest matches: a scan whose cost follows the number of events stored.
``ending_before`` reads forwards from its cursor and stops as soon as the page is full, and
``GET /v1/events/{id}`` finds its event through the store's index of event ids.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase

from payment_intent.dialects.search_query import Clause, Query
from payment_intent.domain import expiry
from payment_intent.domain.errors import InvalidRequestError, parameter_invalid, resource_missing
from payment_intent.domain.model import Event, PaymentIntent
from payment_intent.domain.params import CreatedFilter, EventListParams, SearchParams
from payment_intent.domain.status import Status
from payment_intent.ports import ListQuery, Store

#: The most intents one search page reads from the store.
SCAN_BUDGET = 1000
#: How many events one read of the feed takes while listing.
EVENT_CHUNK = 500


@dataclass(frozen=True, slots=True)
class SearchPage:
    data: list[PaymentIntent]
    has_more: bool
    next_page: str | None


def search(store: Store, now: int, query: Query, params: SearchParams) -> SearchPage:
    """One page of the intents ``query`` matches, newest first."""
    after = _page_cursor(params.page) if params.page is not None else None
    found: dict[str, PaymentIntent] = {}
    budget = max(SCAN_BUDGET // len(query.any_of), params.limit + 1)
    # Where an alternative ran out of budget: its matches older than that are not known yet.
    stop: tuple[int, str] | None = None
    for clauses in query.any_of:
        matched, complete, last = _alternative(store, now, clauses, after, params.limit + 1, budget)
        if not complete:
            stop = last if stop is None or last > stop else stop
        for intent in matched:
            found.setdefault(intent.id, intent)
    ordered = sorted(found.values(), key=lambda i: (i.created, i.id), reverse=True)
    if stop is not None:
        # Every alternative has read down to ``stop`` (that row included): what is older than it
        # is not known for all of them yet, and waits for the next page.
        ordered = [i for i in ordered if (i.created, i.id) >= stop]
    page = ordered[: params.limit]
    cursor: tuple[int, str] | None = None
    if len(ordered) > params.limit:
        cursor = (page[-1].created, page[-1].id)
    elif stop is not None:
        cursor = stop
    return SearchPage(page, cursor is not None, _page_token(cursor) if cursor else None)


def _alternative(
    store: Store,
    now: int,
    clauses: tuple[Clause, ...],
    after: tuple[int, str] | None,
    wanted: int,
    budget: int,
) -> tuple[list[PaymentIntent], bool, tuple[int, str]]:
    """Matches of one alternative, newest first after ``after``; whether the read got to the end
    (or filled ``wanted``), and the position it stopped at."""
    customer, status, low, high = _indexed(clauses)
    matched: list[PaymentIntent] = []
    position = after
    read = 0
    while read < budget:
        chunk = min(max(wanted * 2, 50), budget - read)
        rows = store.list_intents(
            ListQuery(
                limit=chunk,
                now=now,
                customer=customer,
                status=status,
                created_gte=low,
                created_lte=high,
                after=position,
            )
        )
        read += len(rows)
        for row in rows:
            intent = expiry.as_of(row, now)
            position = (row.created, row.id)
            if all(clause.matches(intent) for clause in clauses):
                matched.append(intent)
                if len(matched) == wanted:
                    return matched, True, position
        if len(rows) < chunk:
            return matched, True, position or (0, "")
    # The budget ran out with more rows to read; ``budget`` ≥ 1, so ``position`` was set.
    assert position is not None
    return matched, False, position


def _indexed(
    clauses: tuple[Clause, ...],
) -> tuple[str | None, Status | None, int | None, int | None]:
    """What of an alternative the store's index can answer: customer, status, created bounds."""
    customer: str | None = None
    status: Status | None = None
    low: int | None = None
    high: int | None = None
    for clause in clauses:
        if clause.negated:
            continue
        if clause.field == "customer" and customer is None:
            customer = str(clause.value)
        elif clause.field == "status" and status is None:
            try:
                status = Status(str(clause.value))
            except ValueError:
                continue  # an unknown status matches nothing; the clause itself says so
        elif clause.field == "created" and isinstance(clause.value, int):
            value = clause.value
            bound = {">": (value + 1, None), ">=": (value, None), "<": (None, value - 1)}.get(
                clause.operator, (None, value) if clause.operator == "<=" else (value, value)
            )
            if bound[0] is not None:
                low = bound[0] if low is None else max(low, bound[0])
            if bound[1] is not None:
                high = bound[1] if high is None else min(high, bound[1])
    return customer, status, low, high


def _page_token(cursor: tuple[int, str]) -> str:
    raw = json.dumps(list(cursor), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _page_cursor(token: str) -> tuple[int, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        created, intent_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise parameter_invalid(
            "page", "Invalid page: use the next_page value of a previous search result."
        ) from None
    if not isinstance(created, int) or not isinstance(intent_id, str):
        raise parameter_invalid(
            "page", "Invalid page: use the next_page value of a previous search result."
        )
    return created, intent_id


# -- events ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventPage:
    data: list[Event]
    has_more: bool


def list_events(store: Store, params: EventListParams) -> EventPage:
    """A page of events newest first, as Stripe lists them."""
    wanted = params.limit + 1
    if params.ending_before is not None:
        # Newer than the cursor: read forwards from it, the oldest matches first, then turn.
        newer: list[Event] = []
        for event in _feed(store, _event_sequence(store, params.ending_before, "ending_before")):
            if _event_matches(event, params):
                newer.append(event)
                if len(newer) == wanted:
                    break
        page = newer[: params.limit]
        page.reverse()
        return EventPage(page, len(newer) > params.limit)
    before = (
        _event_sequence(store, params.starting_after, "starting_after")
        if params.starting_after is not None
        else None
    )
    # Older than the cursor (or the newest of all): the feed has no read backwards, so it is read
    # forwards up to the cursor, keeping the newest matches.
    newest: deque[Event] = deque(maxlen=wanted)
    for event in _feed(store, 0):
        if before is not None and _sequence(event) >= before:
            break
        if _event_matches(event, params):
            newest.append(event)
    ordered = list(reversed(newest))
    return EventPage(ordered[: params.limit], len(ordered) > params.limit)


def _feed(store: Store, after: int) -> Iterator[Event]:
    """The committed events after the sequence ``after``, in commit order, read in chunks."""
    while True:
        chunk = store.read_events(after, EVENT_CHUNK)
        yield from chunk
        if len(chunk) < EVENT_CHUNK:
            return
        after = _sequence(chunk[-1])


def retrieve_event(store: Store, event_id: str) -> Event:
    sequence = store.event_position(event_id)
    found = store.read_events(sequence - 1, 1) if sequence is not None else []
    if not found or found[0].id != event_id:
        raise resource_missing("id", "event", event_id)
    return found[0]


def _event_matches(event: Event, params: EventListParams) -> bool:
    patterns = params.types if params.types is not None else [params.type] if params.type else []
    if patterns and not any(fnmatchcase(event.type, pattern) for pattern in patterns):
        return False
    created = params.created
    if created is None:
        return True
    if isinstance(created, int):
        return event.created == created
    return _within(event.created, created)


def _within(value: int, bounds: CreatedFilter) -> bool:
    return (
        (bounds.gt is None or value > bounds.gt)
        and (bounds.gte is None or value >= bounds.gte)
        and (bounds.lt is None or value < bounds.lt)
        and (bounds.lte is None or value <= bounds.lte)
    )


def _event_sequence(store: Store, event_id: str, param: str) -> int:
    sequence = store.event_position(event_id)
    if sequence is None:
        raise resource_missing(param, "event", event_id)
    return sequence


def _sequence(event: Event) -> int:
    if event.sequence is None:
        raise InvalidRequestError(
            "The store returned an event without its position.", code="api_error", http_status=500
        )
    return event.sequence
