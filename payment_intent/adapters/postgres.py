"""The PostgreSQL store: one database shared by many processes and hosts.

Needs the ``postgres`` extra (``pip install "payment_intent[postgres]"``: psycopg 3 and
psycopg-pool). Connections come from a :class:`psycopg_pool.ConnectionPool`; each runs in autocommit
and a commit is one explicit transaction at PostgreSQL's default READ COMMITTED isolation.

Optimistic concurrency: an update carries ``WHERE id = ... AND version = ...`` and a new intent
inserts with ``ON CONFLICT DO NOTHING``; when no row is written, another request got there first.
Under READ COMMITTED a writer that waited for a row lock re-checks that condition against the
committed row, so of two racing writers exactly one writes.

Event order: a PostgreSQL sequence is *not* commit-ordered (a transaction may draw 7, another 8
and commit first, and a reader that saw 8 would later miss 7). So event positions come from a
one-row counter, ``payment_intent_event_counter``, incremented inside the committing transaction as
its last step before inserting the events. Its row lock is held until commit, which serialises the
short tail of every event-writing commit: the next writer reads the counter only after the previous
one is committed and visible. Positions are therefore gap-free and in commit order, and a consumer
resuming after its last position never misses or repeats an event.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg.errors
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from payment_intent.adapters import _sql
from payment_intent.domain.errors import ConcurrencyError, parameter_invalid
from payment_intent.domain.model import Event, PaymentIntent
from payment_intent.ports import Commit, IdempotencyRecord, ListQuery

#: Forward migrations: entry ``n`` takes a database from schema version ``n`` to ``n + 1``.
#: The version is kept in ``payment_intent_schema``; a step is never edited once released.
#: Text columns that are compared for order use the "C" collation, so that ids sort by code point
#: as in every other store, whatever the database's locale.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE payment_intents (
            id text COLLATE "C" PRIMARY KEY,
            version integer NOT NULL,
            created bigint NOT NULL,
            customer text COLLATE "C",
            status text NOT NULL,
            capture_before_at bigint,
            body json NOT NULL
        )""",
        "CREATE INDEX payment_intents_by_created ON payment_intents (created, id)",
        "CREATE INDEX payment_intents_by_customer ON payment_intents (customer, created, id)",
        "CREATE INDEX payment_intents_by_status ON payment_intents (status, created, id)",
        """CREATE INDEX payment_intents_by_customer_status
            ON payment_intents (customer, status, created, id)""",
        f"""CREATE INDEX payment_intents_due ON payment_intents (capture_before_at, id)
            WHERE status = '{_sql.HELD}'""",
        """CREATE TABLE payment_intent_events (
            sequence bigint PRIMARY KEY,
            id text COLLATE "C" NOT NULL UNIQUE,
            intent_id text COLLATE "C" NOT NULL,
            intent_version integer NOT NULL,
            type text NOT NULL,
            created bigint NOT NULL,
            body json NOT NULL
        )""",
        """CREATE INDEX payment_intent_events_by_intent
            ON payment_intent_events (intent_id, intent_version)""",
        """CREATE TABLE payment_intent_event_counter (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            last_sequence bigint NOT NULL
        )""",
        "INSERT INTO payment_intent_event_counter (last_sequence) VALUES (0)",
        """CREATE TABLE payment_intent_idempotency (
            key text COLLATE "C" PRIMARY KEY,
            fingerprint text NOT NULL,
            created bigint NOT NULL,
            expires_at bigint NOT NULL,
            response json NOT NULL
        )""",
    ),
)

#: ``pg_advisory_xact_lock`` key that serialises schema migrations between processes.
_MIGRATION_LOCK = 0x7061796D656E74  # "payment"

_CONFLICTS = (
    psycopg.errors.UniqueViolation,
    psycopg.errors.SerializationFailure,
    psycopg.errors.DeadlockDetected,
)
_TIMEOUTS = (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled)


class PostgresStore:
    """A store in a PostgreSQL database, created and migrated on first use.

    ``dsn`` is a libpq connection string or URL; the tables live in the connection's
    ``search_path`` schema. ``max_size`` bounds the pool; ``lock_timeout`` (seconds) bounds how long
    a write waits for a row lock before failing with
    :class:`~payment_intent.errors.ConcurrencyError` (code ``lock_timeout``); ``connect_timeout``
    bounds how long opening the store waits for the server.
    """

    migrations: tuple[tuple[str, ...], ...] = MIGRATIONS

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        lock_timeout: float = 5.0,
        connect_timeout: float = 10.0,
    ) -> None:
        if not isinstance(dsn, str) or not dsn:
            raise parameter_invalid("dsn", "PostgresStore needs a PostgreSQL connection string.")
        try:
            conninfo_to_dict(dsn)
        except psycopg.ProgrammingError as error:
            raise parameter_invalid("dsn", f"Not a PostgreSQL connection string: {error}") from None
        for name, value in (("min_size", min_size), ("max_size", max_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise parameter_invalid(name, f"{name} must be a positive whole number.")
        if min_size > max_size:
            raise parameter_invalid("min_size", "min_size cannot exceed max_size.")
        for name, seconds in (("lock_timeout", lock_timeout), ("connect_timeout", connect_timeout)):
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
                raise parameter_invalid(name, f"{name} must be a positive number of seconds.")
        self.lock_timeout = float(lock_timeout)
        self._pool: ConnectionPool[psycopg.Connection[tuple[Any, ...]]] = ConnectionPool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True},
            configure=self._configure,
            open=False,
            name="payment_intent",
        )
        try:
            self._pool.open(wait=True, timeout=float(connect_timeout))
        except PoolTimeout as error:
            self._pool.close()
            raise psycopg.OperationalError(
                f"Could not connect to PostgreSQL within {connect_timeout} s: {error}"
            ) from error
        try:
            self._migrate()
        except BaseException:
            self._pool.close()
            raise

    def _configure(self, connection: psycopg.Connection[tuple[Any, ...]]) -> None:
        connection.execute(
            sql.SQL("SET lock_timeout = {}").format(
                sql.Literal(f"{int(self.lock_timeout * 1000)}ms")
            )
        )

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        with self._pool.connection() as connection:
            yield connection

    def _migrate(self) -> None:
        target = len(self.migrations)
        with self._connection() as connection, connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            connection.execute(
                """CREATE TABLE IF NOT EXISTS payment_intent_schema (
                    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                    version integer NOT NULL
                )"""
            )
            row = connection.execute("SELECT version FROM payment_intent_schema").fetchone()
            current = int(row[0]) if row is not None else 0
            if current > target:
                raise parameter_invalid(
                    "dsn",
                    f"The database has payment_intent schema version {current}; this "
                    f"payment_intent knows versions up to {target}. Upgrade payment_intent.",
                )
            for step in self.migrations[current:]:
                for statement in step:
                    connection.execute(statement)
            connection.execute(
                "INSERT INTO payment_intent_schema (version) VALUES (%s)"
                " ON CONFLICT (singleton) DO UPDATE SET version = excluded.version",
                (target,),
            )

    @property
    def schema_version(self) -> int:
        with self._connection() as connection:
            row = connection.execute("SELECT version FROM payment_intent_schema").fetchone()
        return int(row[0]) if row is not None else 0

    # -- reads ---------------------------------------------------------------------------------

    def load(self, intent_id: str) -> PaymentIntent | None:
        with self._connection() as connection:
            row = connection.execute(
                "SELECT body::text FROM payment_intents WHERE id = %s", (intent_id,)
            ).fetchone()
        return PaymentIntent.model_validate_json(row[0]) if row is not None else None

    def idempotency_record(self, key: str) -> IdempotencyRecord | None:
        with self._connection() as connection:
            row = connection.execute(
                "SELECT key, fingerprint, created, expires_at, response::text"
                " FROM payment_intent_idempotency WHERE key = %s",
                (key,),
            ).fetchone()
        return _sql.load_record(row) if row is not None else None

    def list_intents(self, query: ListQuery) -> list[PaymentIntent]:
        statement, params = _sql.list_sql(query, "%s", body="body::text")
        with self._connection() as connection:
            rows = connection.execute(statement, params).fetchall()
        return [PaymentIntent.model_validate_json(body) for (body,) in rows]

    def due_authorizations(self, now: int, limit: int) -> list[str]:
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT id FROM payment_intents"
                f" WHERE status = '{_sql.HELD}' AND capture_before_at <= %s"
                " ORDER BY capture_before_at, id LIMIT %s",
                (now, limit),
            ).fetchall()
        return [intent_id for (intent_id,) in rows]

    def event_position(self, event_id: str) -> int | None:
        with self._connection() as connection:
            row = connection.execute(
                "SELECT sequence FROM payment_intent_events WHERE id = %s", (event_id,)
            ).fetchone()
        return int(row[0]) if row is not None else None

    def read_events(self, after_sequence: int, limit: int) -> list[Event]:
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT sequence, body::text FROM payment_intent_events WHERE sequence > %s"
                " ORDER BY sequence LIMIT %s",
                (after_sequence, limit),
            ).fetchall()
        return [_sql.load_event(int(sequence), body) for sequence, body in rows]

    # -- the one write ---------------------------------------------------------------------------

    def commit(self, commit: Commit) -> None:
        intent, expected = commit.intent, commit.expected_version
        if intent is not None and intent.version != expected + 1:
            raise _sql.bad_version(intent, expected)
        try:
            with self._connection() as connection, connection.transaction():
                self._write(connection, commit)
        except _CONFLICTS as error:
            raise ConcurrencyError(
                f"A concurrent request changed the same records first: {error}",
                code="concurrent_modification",
            ) from error
        except _TIMEOUTS as error:
            raise ConcurrencyError(
                f"A concurrent request held the same records past lock_timeout: {error}",
                code="lock_timeout",
            ) from error

    def _write(self, connection: psycopg.Connection[tuple[Any, ...]], commit: Commit) -> None:
        intent, expected = commit.intent, commit.expected_version
        if intent is not None:
            row = _sql.intent_row(intent)
            if expected == 0:
                cursor = connection.execute(
                    "INSERT INTO payment_intents"
                    " (id, version, created, customer, status, capture_before_at, body)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                    row,
                )
            else:
                cursor = connection.execute(
                    "UPDATE payment_intents SET version = %s, created = %s, customer = %s,"
                    " status = %s, capture_before_at = %s, body = %s"
                    " WHERE id = %s AND version = %s",
                    (*row[1:], intent.id, expected),
                )
            if cursor.rowcount != 1:
                raise _sql.version_conflict(intent.id, expected)
        record = commit.idempotency
        if record is not None:
            # A key is free when unused or expired by the time of the new request.
            cursor = connection.execute(
                "INSERT INTO payment_intent_idempotency"
                " (key, fingerprint, created, expires_at, response)"
                " VALUES (%s, %s, %s, %s, %s)"
                " ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint,"
                " created = excluded.created, expires_at = excluded.expires_at,"
                " response = excluded.response"
                " WHERE payment_intent_idempotency.expires_at <= excluded.created",
                _sql.record_row(record),
            )
            if cursor.rowcount != 1:
                raise _sql.key_conflict(record.key)
        if commit.events:
            # Last, so the counter's row lock is held only for the insert and the commit.
            counter = connection.execute(
                "UPDATE payment_intent_event_counter SET last_sequence = last_sequence + %s"
                " RETURNING last_sequence",
                (len(commit.events),),
            ).fetchone()
            assert counter is not None, "the event counter row is missing"
            first = int(counter[0]) - len(commit.events) + 1
            rows = [
                (first + offset, *_sql.event_row(event))
                for offset, event in enumerate(commit.events)
            ]
            with connection.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO payment_intent_events"
                    " (sequence, id, intent_id, intent_version, type, created, body)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    rows,
                )

    # -- housekeeping ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the pool's connections; the store cannot be used afterwards."""
        self._pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresStore(pool={self._pool.name!r})"
