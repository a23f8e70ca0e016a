"""What the SQLite and PostgreSQL webhook stores share: the statements, written once with ``?``
placeholders (PostgreSQL's adapter rewrites them to ``%s``), and every method of the port.

A subclass provides connections (:meth:`_connection` for reads, :meth:`_transaction` for one
write transaction) and the few statements that differ.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from payment_intent.webhooks.model import (
    Attempt,
    ClaimedDelivery,
    Delivery,
    Endpoint,
    RelayState,
    Result,
)
from payment_intent.webhooks.storage import FanOut, Pruning

_ENDPOINT_COLUMNS = (
    "id, dialect, livemode, url, enabled_events, secret, created, updated, cursor, status,"
    " api_version, description, metadata"
)
_DELIVERY_COLUMNS = (
    "id, endpoint_id, event_id, event_sequence, event_type, body, state, attempts, next_attempt_at"
)
_ATTEMPT_COLUMNS = (
    "target, event_id, number, started_at, duration, status_code, error, outcome, next_retry_at"
)
_INSERT_DELIVERY = (
    "INSERT INTO webhook_deliveries"
    " (endpoint_id, event_id, event_sequence, event_type, body, state, attempts, next_attempt_at)"
    " VALUES (?, ?, ?, ?, ?, 'pending', 0, ?) ON CONFLICT (endpoint_id, event_id) DO NOTHING"
)
INSERT_ATTEMPT = (
    f"INSERT INTO webhook_attempts ({_ATTEMPT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
#: The enabled endpoints with a due, unleased delivery: one probe of the partial index
#: ``webhook_deliveries_due`` per endpoint, which stops at its first due delivery not leased (it
#: steps over the leased ones first, as many as the workers have in flight), so that its cost
#: does not grow with the backlog.
DUE_ENDPOINTS = (
    "SELECT e.id FROM webhook_endpoints e WHERE e.status = 'enabled' AND EXISTS"
    " (SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.state = 'pending'"
    " AND d.next_attempt_at <= ? AND (d.lease_until IS NULL OR d.lease_until <= ?))"
    " ORDER BY e.id"
)


def endpoint_row(endpoint: Endpoint) -> tuple[Any, ...]:
    return (
        endpoint.id,
        endpoint.dialect,
        endpoint.livemode,
        endpoint.url,
        json.dumps(list(endpoint.enabled_events)),
        endpoint.secret,
        endpoint.created,
        endpoint.updated,
        endpoint.cursor,
        endpoint.status,
        endpoint.api_version,
        endpoint.description,
        json.dumps(endpoint.metadata, sort_keys=True),
    )


def load_endpoint(row: Sequence[Any]) -> Endpoint:
    return Endpoint(
        id=row[0],
        dialect=row[1],
        livemode=bool(row[2]),
        url=row[3],
        enabled_events=tuple(json.loads(row[4])),
        secret=row[5],
        created=int(row[6]),
        updated=int(row[7]),
        cursor=int(row[8]),
        status=row[9],
        api_version=row[10],
        description=row[11],
        metadata=json.loads(row[12]),
    )


def load_delivery(row: Sequence[Any]) -> Delivery:
    return Delivery(
        int(row[0]), row[1], row[2], int(row[3]), row[4], bytes(row[5]), row[6], int(row[7]),
        None if row[8] is None else float(row[8]),
    )  # fmt: skip


def attempt_row(attempt: Attempt) -> tuple[Any, ...]:
    return (
        attempt.target, attempt.event_id, attempt.number, attempt.started_at, attempt.duration,
        attempt.status_code, attempt.error, attempt.outcome, attempt.next_retry_at,
    )  # fmt: skip


def load_attempt(row: Sequence[Any]) -> Attempt:
    return Attempt(
        row[0], row[1], int(row[2]), float(row[3]), float(row[4]),
        None if row[5] is None else int(row[5]), row[6], row[7],
        None if row[8] is None else float(row[8]),
    )  # fmt: skip


def finished_at(result: Result) -> float | None:
    """When ``result`` finished its delivery (its attempt's start), or ``None``: still pending."""
    return None if result.state == "pending" else result.attempt.started_at


#: The second migration step of both databases, less the column types: when a delivery finished,
#: for pruning, filled in for the deliveries finished before it (``{real}`` the float type).
RETENTION_STEP = (
    "ALTER TABLE webhook_deliveries ADD COLUMN finished_at {real}",
    "UPDATE webhook_deliveries SET finished_at = (SELECT max(a.started_at) FROM webhook_attempts a"
    " WHERE a.target = webhook_deliveries.endpoint_id"
    " AND a.event_id = webhook_deliveries.event_id) WHERE state <> 'pending'",
    "CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (finished_at)"
    " WHERE finished_at IS NOT NULL",
    "CREATE INDEX webhook_attempts_by_start ON webhook_attempts (started_at)",
)


def claim_sql(locking: str = "") -> str:
    """The statement that leases an endpoint's due deliveries; ``locking`` is PostgreSQL's
    ``FOR UPDATE SKIP LOCKED``, so that concurrent claimers pass over each other's rows."""
    return (
        "UPDATE webhook_deliveries SET lease_until = ?, lease_token = ? WHERE id IN"
        " (SELECT id FROM webhook_deliveries WHERE endpoint_id = ? AND state = 'pending'"
        " AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)"
        f" ORDER BY next_attempt_at, id LIMIT ? {locking})"
        f" RETURNING {_DELIVERY_COLUMNS}"
    )


class SqlWebhookStore(ABC):
    """The webhook store over a SQL database; see :class:`~.storage.WebhookStore`."""

    #: The statement that leases due deliveries: :func:`claim_sql`.
    claim_sql: str
    #: When this store next forgets what is past its retention (per process: another process
    #: looks for itself, and a second look finds nothing).
    _pruning: Pruning

    @abstractmethod
    def _connection(self) -> AbstractContextManager[Any]:
        """A connection in autocommit mode, for reads."""

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[Any]:
        """A connection inside one write transaction, committed on leaving."""

    @abstractmethod
    def _sql(self, statement: str) -> str:
        """``statement`` in this database's placeholders."""

    def _migrate_in(
        self, connection: Any, migrations: Sequence[Sequence[str]], database: str
    ) -> None:
        """Bring the webhook tables to the last of ``migrations`` (entry ``n`` takes them from
        version ``n`` to ``n + 1``), inside the caller's write transaction. ``database`` names
        the database in the refusal of tables newer than this library knows."""
        connection.execute(
            "CREATE TABLE IF NOT EXISTS payment_intent_webhooks_schema (version INTEGER NOT NULL)"
        )
        row = connection.execute("SELECT version FROM payment_intent_webhooks_schema").fetchone()
        current = 0 if row is None else int(row[0])
        if current > len(migrations):
            raise ValueError(
                f"{database} has webhook tables of version {current}; this payment_intent "
                f"knows versions up to {len(migrations)}. Upgrade payment_intent to open it."
            )
        for step in migrations[current:]:
            for statement in step:
                connection.execute(statement)
        if row is None:
            statement = "INSERT INTO payment_intent_webhooks_schema (version) VALUES (?)"
        else:
            statement = "UPDATE payment_intent_webhooks_schema SET version = ?"
        connection.execute(self._sql(statement), (len(migrations),))

    def _rows(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._connection() as connection:
            return list(connection.execute(self._sql(statement), params).fetchall())

    def _many(self, connection: Any, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        for row in rows:
            connection.execute(self._sql(statement), row)

    # -- endpoints -------------------------------------------------------------------------------

    def add_endpoint(self, endpoint: Endpoint, max_endpoints: int) -> bool:
        with self._transaction() as connection:
            self._lock_endpoints(connection)
            (count,) = connection.execute("SELECT count(*) FROM webhook_endpoints").fetchone()
            if int(count) >= max_endpoints:
                return False
            connection.execute(
                self._sql(
                    f"INSERT INTO webhook_endpoints ({_ENDPOINT_COLUMNS})"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                endpoint_row(endpoint),
            )
        return True

    def _lock_endpoints(self, connection: Any) -> None:  # noqa: B027 (SQLite needs nothing)
        """Serialise endpoint creation, so two creations cannot both pass the limit (SQLite's
        write transaction does it already)."""

    def endpoint(self, endpoint_id: str) -> Endpoint | None:
        rows = self._rows(
            f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ?", (endpoint_id,)
        )
        return load_endpoint(rows[0]) if rows else None

    def endpoints(
        self, limit: int | None = None, after: str | None = None, before: str | None = None
    ) -> list[Endpoint]:
        where, params, order = "", list[Any](), "DESC"
        if after is not None:
            where, params = " WHERE id < ?", [after]
        elif before is not None:
            where, params, order = " WHERE id > ?", [before], "ASC"
        bound = ""
        if limit is not None:
            bound, params = " LIMIT ?", [*params, limit]
        rows = self._rows(
            f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints{where} ORDER BY id {order}{bound}",
            params,
        )
        found = [load_endpoint(row) for row in rows]
        return found[::-1] if order == "ASC" else found

    def update_endpoint(self, endpoint: Endpoint) -> bool:
        row = endpoint_row(endpoint)
        with self._transaction() as connection:
            written = connection.execute(
                self._sql(
                    "UPDATE webhook_endpoints SET url = ?, enabled_events = ?, updated = ?,"
                    " status = ?, api_version = ?, description = ?, metadata = ? WHERE id = ?"
                ),
                (row[3], row[4], row[7], row[9], row[10], row[11], row[12], row[0]),
            ).rowcount
        return bool(written == 1)

    def delete_endpoint(self, endpoint_id: str) -> bool:
        with self._transaction() as connection:
            deleted = connection.execute(
                self._sql("DELETE FROM webhook_endpoints WHERE id = ?"), (endpoint_id,)
            ).rowcount
            connection.execute(
                self._sql("DELETE FROM webhook_deliveries WHERE endpoint_id = ?"), (endpoint_id,)
            )
            connection.execute(
                self._sql("DELETE FROM webhook_attempts WHERE target = ?"), (endpoint_id,)
            )
        return bool(deleted == 1)

    # -- delivery --------------------------------------------------------------------------------

    def fan_out(self, plan: Sequence[FanOut], now: float) -> int:
        created = 0
        with self._transaction() as connection:
            for endpoint_id, read, moved_to, news in plan:
                moved = connection.execute(
                    self._sql(
                        "UPDATE webhook_endpoints SET cursor = ? WHERE id = ? AND cursor = ?"
                    ),
                    (moved_to, endpoint_id, read),
                ).rowcount
                if moved != 1:
                    continue  # another worker moved it first, and made these deliveries
                rows = [
                    (n.endpoint_id, n.event_id, n.event_sequence, n.event_type, n.body, now)
                    for n in news
                ]
                self._many(connection, _INSERT_DELIVERY, rows)
                created += len(rows)
        return created

    def due_endpoints(self, now: float) -> list[str]:
        rows = self._rows(DUE_ENDPOINTS, (now, now))
        return [row[0] for row in rows]

    def claim(
        self, endpoint_id: str, now: float, limit: int, lease_until: float, token: str
    ) -> list[ClaimedDelivery]:
        with self._transaction() as connection:
            target = connection.execute(
                self._sql(
                    "SELECT url, secret, dialect, livemode FROM webhook_endpoints"
                    " WHERE id = ? AND status = 'enabled'"
                ),
                (endpoint_id,),
            ).fetchone()
            if target is None:
                return []
            rows = connection.execute(
                self._sql(self.claim_sql), (lease_until, token, endpoint_id, now, now, limit)
            ).fetchall()
        url, secret, dialect, livemode = target
        claimed = [
            ClaimedDelivery(load_delivery(row), url, secret, dialect, bool(livemode), token)
            for row in rows
        ]
        claimed.sort(key=lambda c: (c.delivery.next_attempt_at or 0.0, c.delivery.id))
        return claimed

    def record(self, results: Sequence[Result]) -> int:
        written = 0
        with self._transaction() as connection:
            for result in results:
                attempt = result.attempt
                held = connection.execute(
                    self._sql(
                        "UPDATE webhook_deliveries SET state = ?, attempts = ?,"
                        " next_attempt_at = ?, finished_at = ?, lease_until = NULL,"
                        " lease_token = NULL WHERE id = ? AND lease_token = ?"
                    ),
                    (
                        result.state,
                        attempt.number,
                        attempt.next_retry_at,
                        finished_at(result),
                        result.claimed.delivery.id,
                        result.claimed.lease_token,
                    ),
                ).rowcount
                if held == 1:
                    connection.execute(self._sql(INSERT_ATTEMPT), attempt_row(attempt))
                    written += 1
            self._prune(connection, [r.attempt for r in results])
        return written

    def _prune(self, connection: Any, attempts: Sequence[Attempt]) -> None:
        """Forget, in the caller's transaction, the attempts and finished deliveries past the
        retention, when ``attempts`` make a look due."""
        before = self._pruning.cutoff(attempts)
        if before is None:
            return
        connection.execute(
            self._sql("DELETE FROM webhook_deliveries WHERE finished_at < ?"), (before,)
        )
        connection.execute(
            self._sql("DELETE FROM webhook_attempts WHERE started_at < ?"), (before,)
        )

    def deliveries(
        self, endpoint_id: str | None = None, event_id: str | None = None
    ) -> list[Delivery]:
        conditions, params = _filters(("endpoint_id", endpoint_id), ("event_id", event_id))
        rows = self._rows(
            f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries{conditions} ORDER BY id", params
        )
        return [load_delivery(row) for row in rows]

    def attempts(
        self, target: str | None = None, event_id: str | None = None, limit: int = 100
    ) -> list[Attempt]:
        conditions, params = _filters(("target", target), ("event_id", event_id))
        rows = self._rows(
            f"SELECT {_ATTEMPT_COLUMNS} FROM webhook_attempts{conditions} ORDER BY id DESC LIMIT ?",
            [*params, limit],
        )
        return [load_attempt(row) for row in rows]

    def undelivered(self, event_ids: Sequence[str]) -> dict[str, int]:
        if not event_ids:
            return {}
        marks = ", ".join("?" for _ in event_ids)
        rows = self._rows(
            "SELECT event_id, count(*) FROM webhook_deliveries"
            f" WHERE event_id IN ({marks}) AND state <> 'delivered' GROUP BY event_id",
            list(event_ids),
        )
        return {row[0]: int(row[1]) for row in rows}

    # -- relays ----------------------------------------------------------------------------------

    def relay_lease(
        self, name: str, start: int, now: float, lease_until: float, token: str
    ) -> RelayState | None:
        with self._transaction() as connection:
            connection.execute(
                self._sql(
                    "INSERT INTO webhook_relays (name, cursor, attempts) VALUES (?, ?, 0)"
                    " ON CONFLICT (name) DO NOTHING"
                ),
                (name, start),
            )
            row = connection.execute(
                self._sql(
                    "UPDATE webhook_relays SET lease_until = ?, lease_token = ? WHERE name = ?"
                    " AND (lease_until IS NULL OR lease_until <= ?)"
                    " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
                    " RETURNING cursor, attempts, next_attempt_at"
                ),
                (lease_until, token, name, now, now),
            ).fetchone()
        if row is None:
            return None
        return RelayState(name, int(row[0]), int(row[1]), _float(row[2]), token)

    def relay_record(
        self,
        name: str,
        token: str,
        attempt: Attempt | None,
        cursor: int,
        attempts: int,
        next_attempt_at: float | None,
    ) -> bool:
        with self._transaction() as connection:
            held = connection.execute(
                self._sql(
                    "UPDATE webhook_relays SET cursor = ?, attempts = ?, next_attempt_at = ?,"
                    " lease_until = NULL, lease_token = NULL WHERE name = ? AND lease_token = ?"
                ),
                (cursor, attempts, next_attempt_at, name, token),
            ).rowcount
            if held != 1:
                return False
            if attempt is not None:
                connection.execute(self._sql(INSERT_ATTEMPT), attempt_row(attempt))
                self._prune(connection, [attempt])
        return True

    def relay_state(self, name: str) -> RelayState | None:
        rows = self._rows(
            "SELECT cursor, attempts, next_attempt_at FROM webhook_relays WHERE name = ?", (name,)
        )
        if not rows:
            return None
        cursor, attempts, next_attempt_at = rows[0]
        return RelayState(name, int(cursor), int(attempts), _float(next_attempt_at))

    # -- housekeeping ----------------------------------------------------------------------------

    def clear(self) -> None:
        with self._transaction() as connection:
            for table in ("webhook_attempts", "webhook_deliveries", "webhook_endpoints"):
                connection.execute(f"DELETE FROM {table}")
            connection.execute("DELETE FROM webhook_relays")

    def clear_payment_tables(self, tables: Sequence[str]) -> None:
        """Delete every row of the intents' ``tables`` that exist in this database (the test-data
        reset, for stores that cannot clear themselves yet)."""
        with self._transaction() as connection:
            for table in tables:
                if self._table_exists(connection, table):
                    connection.execute(f"DELETE FROM {table}")

    @abstractmethod
    def _table_exists(self, connection: Any, table: str) -> bool: ...


def _filters(*pairs: tuple[str, str | None]) -> tuple[str, list[Any]]:
    given = [(column, value) for column, value in pairs if value is not None]
    if not given:
        return "", []
    return " WHERE " + " AND ".join(f"{c} = ?" for c, _ in given), [v for _, v in given]


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
