"""The PostgreSQL store: one database shared by many processes and hosts.

Needs the ``postgres`` extra (``pip install "payment_intent[postgres]"``: psycopg 3 and
psycopg-pool). Connections come from a :class:`psycopg_pool.ConnectionPool`; each runs in autocommit
and a commit is one statement, hence one transaction, at PostgreSQL's default READ COMMITTED
isolation: one round trip and one WAL flush.

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

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
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

#: SQLSTATEs ``payment_intent_commit_check`` raises: the version or the idempotency key was taken.
_INTENT_CONFLICT = "PI001"
_KEY_CONFLICT = "PI002"

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
    # 2: a commit is one statement (see ``_commit_statement``), which raises through this function
    # when its version or key condition found no row, so that the whole statement, run as its own
    # transaction, rolls back. The (intent_id, intent_version) index, which no query reads, goes.
    (
        f"""CREATE FUNCTION payment_intent_commit_check(intent_written boolean,
                record_written boolean) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
            BEGIN
                IF NOT intent_written THEN
                    RAISE EXCEPTION 'the intent is not at the expected version'
                        USING ERRCODE = '{_INTENT_CONFLICT}';
                END IF;
                IF NOT record_written THEN
                    RAISE EXCEPTION 'the idempotency key is taken'
                        USING ERRCODE = '{_KEY_CONFLICT}';
                END IF;
                RETURN true;
            END
        $$""",
        "DROP INDEX payment_intent_events_by_intent",
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
            # Never prepared: the right index depends on the values (a rare status walks its own
            # index, a common one may walk (created, id)), and a prepared statement may settle on
            # one generic plan for every value. Planning a page costs a fraction of a millisecond.
            rows = connection.execute(statement, params, prepare=False).fetchall()
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
            with self._connection() as connection:
                self._write(connection, commit)
        except psycopg.DatabaseError as error:
            raise _conflict(error, commit) from error

    def commit_many(self, commits: Sequence[Commit]) -> list[ConcurrencyError | None]:
        """Apply each commit as if alone, all in one transaction: one WAL flush for the lot.

        A commit that conflicts writes nothing (it runs in its own savepoint) and its error takes
        its place in the result; ``None`` marks one that was written. For work that needs no
        answer between commits, like the expiry sweep. The event counter's row lock is held until
        the end, so keep batches to a few hundred commits.
        """
        results: list[ConcurrencyError | None] = []
        with self._connection() as connection, connection.transaction():
            for commit in commits:
                intent, expected = commit.intent, commit.expected_version
                if intent is not None and intent.version != expected + 1:
                    results.append(_sql.bad_version(intent, expected))
                    continue
                try:
                    with connection.transaction():  # a savepoint
                        self._write(connection, commit)
                except psycopg.DatabaseError as error:
                    results.append(_conflict(error, commit))
                else:
                    results.append(None)
        return results

    def _write(self, connection: psycopg.Connection[tuple[Any, ...]], commit: Commit) -> None:
        """Send the commit's one statement: its own transaction in autocommit, or a part of the
        caller's open one."""
        connection.execute(*_commit_statement(commit))

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


def _conflict(error: psycopg.DatabaseError, commit: Commit) -> ConcurrencyError:
    """The ConcurrencyError a failed commit statement means; anything else is raised as it is."""
    if error.sqlstate == _INTENT_CONFLICT and commit.intent is not None:
        return _sql.version_conflict(commit.intent.id, commit.expected_version)
    if error.sqlstate == _KEY_CONFLICT and commit.idempotency is not None:
        return _sql.key_conflict(commit.idempotency.key)
    if isinstance(error, _CONFLICTS):
        return ConcurrencyError(
            f"A concurrent request changed the same records first: {error}",
            code="concurrent_modification",
        )
    if isinstance(error, _TIMEOUTS):
        return ConcurrencyError(
            f"A concurrent request held the same records past lock_timeout: {error}",
            code="lock_timeout",
        )
    raise error


_INTENT_SQL = {
    # A new intent: a row that already has the id means another request created it first.
    True: """INSERT INTO payment_intents
        (id, version, created, customer, status, capture_before_at, body)
        VALUES (%(id)s, %(version)s, %(created)s, %(customer)s, %(status)s, %(due)s, %(body)s)
        ON CONFLICT (id) DO NOTHING RETURNING 1""",
    False: """UPDATE payment_intents SET version = %(version)s, created = %(created)s,
        customer = %(customer)s, status = %(status)s, capture_before_at = %(due)s, body = %(body)s
        WHERE id = %(id)s AND version = %(expected)s RETURNING 1""",
}
# A key is free when unused or expired by the time of the new request.
_RECORD_SQL = """INSERT INTO payment_intent_idempotency
    (key, fingerprint, created, expires_at, response)
    VALUES (%(key)s, %(fingerprint)s, %(record_created)s, %(expires_at)s, %(response)s)
    ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint,
        created = excluded.created, expires_at = excluded.expires_at, response = excluded.response
    WHERE payment_intent_idempotency.expires_at <= excluded.created RETURNING 1"""
# Last, and only once the checks passed, so the counter's row lock is held only for the event
# insert and the commit. The WHERE clause refers to no column of the counter: PostgreSQL runs it
# once, before it reads (and locks) the row, and that runs the intent and record writes first.
_EVENTS_SQL = """counter AS (
        UPDATE payment_intent_event_counter SET last_sequence = last_sequence + %(count)s
        WHERE payment_intent_commit_check({intent}, {record}) RETURNING last_sequence
    )
    INSERT INTO payment_intent_events (sequence, id, intent_id, intent_version, type, created, body)
    SELECT counter.last_sequence - %(count)s + event.position, event.id, event.intent_id,
        event.intent_version, event.type, event.created, event.body
    FROM counter, unnest(%(event_ids)s::text[], %(event_intents)s::text[],
        %(event_versions)s::integer[], %(event_types)s::text[], %(event_created)s::bigint[],
        %(event_bodies)s::json[])
        WITH ORDINALITY AS event (id, intent_id, intent_version, type, created, body, position)"""


@cache
def _commit_sql(new_intent: bool | None, record: bool, events: bool) -> str:
    """The one statement for a commit of this shape (``new_intent`` is ``None`` without intent).

    Data-modifying CTEs all run to completion in one snapshot; the check makes the statement fail
    (and so roll back as a whole) when the intent or the record found its row taken.
    """
    parts = []
    if new_intent is not None:
        parts.append(f"intent AS ({_INTENT_SQL[new_intent]})")
    if record:
        parts.append(f"record AS ({_RECORD_SQL})")
    intent_check = "EXISTS (SELECT FROM intent)" if new_intent is not None else "true"
    record_check = "EXISTS (SELECT FROM record)" if record else "true"
    if events:
        parts.append(_EVENTS_SQL.format(intent=intent_check, record=record_check))
        return "WITH " + ",\n".join(parts)
    check = f"SELECT payment_intent_commit_check({intent_check}, {record_check})"
    return ("WITH " + ",\n".join(parts) + "\n" + check) if parts else check


def _commit_statement(commit: Commit) -> tuple[str, dict[str, Any]]:
    """The SQL of one commit and its parameters: one round trip, one implicit transaction."""
    intent, record = commit.intent, commit.idempotency
    params: dict[str, Any] = {}
    body = None
    if intent is not None:
        intent_id, version, created, customer, status, due, body = _sql.intent_row(intent)
        params.update(
            id=intent_id,
            version=version,
            created=created,
            customer=customer,
            status=status,
            due=due,
            body=body,
            expected=commit.expected_version,
        )
    if record is not None:
        key, fingerprint, record_created, expires_at, response = _sql.record_row(record)
        params.update(
            key=key,
            fingerprint=fingerprint,
            record_created=record_created,
            expires_at=expires_at,
            response=response,
        )
    if commit.events:
        rows = [_sql.event_row(event, intent, body) for event in commit.events]
        params.update(
            count=len(rows),
            event_ids=[row[0] for row in rows],
            event_intents=[row[1] for row in rows],
            event_versions=[row[2] for row in rows],
            event_types=[row[3] for row in rows],
            event_created=[row[4] for row in rows],
            event_bodies=[row[5] for row in rows],
        )
    new_intent = None if intent is None else commit.expected_version == 0
    return _commit_sql(new_intent, record is not None, bool(commit.events)), params
