"""Stripe's search query language, for the fields Stripe lets a PaymentIntent be searched by.

A query is up to ten clauses joined by ``AND`` or by ``OR`` (not both, as on Stripe; clauses side
by side mean ``AND``). A clause is ``field:value`` (equality), or ``field>value``, ``<``, ``>=``,
``<=`` on the numeric fields, optionally negated with a leading ``-``::

    status:"succeeded" AND amount>=1000 AND metadata['order_id']:'6735'
    currency:"eur" OR -customer:"cus_123"
    created>1706140800

Fields: ``amount`` and ``created`` (integers), ``currency``, ``customer``, ``status`` (quoted
strings), and ``metadata['key']`` (a quoted string, or ``null`` for "has no such key"). A query
that does not read this way is a 400 naming ``query``, and nothing runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from payment_intent.domain.errors import InvalidRequestError
from payment_intent.domain.model import PaymentIntent

MAX_CLAUSES = 10

Operator = Literal[":", ">", "<", ">=", "<="]

_NUMERIC = frozenset({"amount", "created"})
_STRINGS = frozenset({"currency", "customer", "status"})

_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<connective>AND|OR)(?=\s|$)
    | (?P<negated>-)?
      (?P<field>[a-z_]+)(?:\[\s*(?P<key>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s*\])?
      (?P<operator>>=|<=|:|>|<)
      (?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|-?\d{1,19}|null)
    )
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Clause:
    """One condition: ``field`` (``metadata`` with its ``key``), an operator and a value."""

    field: str
    operator: Operator
    value: str | int | None
    negated: bool = False
    key: str | None = None

    def matches(self, intent: PaymentIntent) -> bool:
        return self._holds(intent) is not self.negated

    def _holds(self, intent: PaymentIntent) -> bool:
        if self.field == "metadata":
            assert self.key is not None
            return intent.metadata.get(self.key) == self.value
        actual = intent.status.value if self.field == "status" else getattr(intent, self.field)
        if self.operator == ":":
            return bool(actual == self.value)
        # Only amount and created take comparisons, and both are integers (see _clause).
        if not isinstance(actual, int) or not isinstance(self.value, int):
            return False
        return {
            ">": actual > self.value,
            "<": actual < self.value,
            ">=": actual >= self.value,
            "<=": actual <= self.value,
        }[self.operator]


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query: ``any_of`` is a list of alternatives, each a list of clauses that must all
    hold (one alternative for an ``AND`` query, one per clause for an ``OR`` query)."""

    any_of: tuple[tuple[Clause, ...], ...]

    def matches(self, intent: PaymentIntent) -> bool:
        return any(all(c.matches(intent) for c in clauses) for clauses in self.any_of)


def parse(text: str) -> Query:
    """The query ``text`` means, or a 400 that says where it stops making sense."""
    clauses: list[Clause] = []
    connectives: set[str] = set()
    position = 0
    expect_clause = True
    while position < len(text):
        if text[position:].isspace():
            break
        found = _TOKEN.match(text, position)
        if found is None:
            raise _invalid(f"could not read the query from position {position}")
        position = found.end()
        if found.group("connective"):
            if expect_clause:
                raise _invalid(f"{found.group('connective')} must stand between two clauses")
            connectives.add(found.group("connective"))
            expect_clause = True
            continue
        clauses.append(_clause(found))
        expect_clause = False
    if not clauses:
        raise _invalid("the query has no clause")
    if expect_clause:
        raise _invalid("the query ends with AND or OR")
    if len(connectives) > 1:
        raise _invalid("AND and OR cannot be combined in one query")
    if len(clauses) > MAX_CLAUSES:
        raise _invalid(f"a query may have at most {MAX_CLAUSES} clauses")
    if connectives == {"OR"}:
        return Query(tuple((clause,) for clause in clauses))
    return Query((tuple(clauses),))


def _clause(found: re.Match[str]) -> Clause:
    field = found.group("field")
    operator: Operator = found.group("operator")  # type: ignore[assignment]
    raw = found.group("value")
    key = _unquote(found.group("key")) if found.group("key") else None
    negated = found.group("negated") is not None
    if field == "metadata":
        if key is None:
            raise _invalid("metadata is searched by key: metadata['key']:'value'")
        if operator != ":":
            raise _invalid("metadata supports only the : operator")
        value = None if raw == "null" else _string(field, raw)
        return Clause(field, operator, value, negated, key)
    if key is not None:
        raise _invalid(f"{field} has no keys; only metadata does")
    if field in _NUMERIC:
        if not re.fullmatch(r"-?\d{1,19}", raw):
            raise _invalid(f"{field} is compared with an integer, such as {field}>1000")
        return Clause(field, operator, int(raw), negated)
    if field in _STRINGS:
        if operator != ":":
            raise _invalid(f"{field} supports only the : operator")
        return Clause(field, operator, _string(field, raw), negated)
    raise _invalid(
        f"{field} is not a field PaymentIntents can be searched by; use amount, created, "
        "currency, customer, metadata['key'] or status"
    )


def _string(field: str, raw: str) -> str:
    if raw[:1] not in ("'", '"'):
        raise _invalid(f'{field} is compared with a quoted string, such as {field}:"value"')
    return _unquote(raw)


def _unquote(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw[1:-1])


def _invalid(reason: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"Invalid search query: {reason}. Queries look like "
        'status:"succeeded" AND metadata[\'order_id\']:"6735" (see Stripe\'s search query '
        "language).",
        code="parameter_invalid",
        param="query",
    )
