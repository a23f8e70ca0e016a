"""The PostgreSQL store: one database shared by many processes and hosts.

Needs the ``postgres`` extra (``pip install "payment_intent[postgres]"``: psycopg 3). Each
connection runs in autocommit and a commit is one statement, hence one transaction, at PostgreSQL's
default READ COMMITTED isolation: one round trip and one WAL flush.

Optimistic concurrency: an update carries ``WHERE id = ... AND version = ...`` and a new intent
inserts with ``ON CONFLICT DO NOTHING``; when no row is written, another request got there first.
Under READ COMMITTED a writer that waited for a row lock re-checks that condition against the
committed row, so of two racing writers exactly one writes. Claims are checked the same way: the
conditions that two racing commits must agree on sit in the rows they both write (see migration 3).

Event order: a PostgreSQL sequence is *not* commit-ordered (a transaction may draw 7, another 8
and commit first, and a reader that saw 8 would later miss 7). So event positions come from a
one-row counter, ``payment_intent_event_counter``, incremented inside the committing transaction as
its last step before inserting the events. Its row lock is held until commit, which serialises the
short tail of every event-writing commit: the next writer reads the counter only after the previous
one is committed and visible. Positions are therefore gap-free and in commit order, and a consumer
resuming after its last position never misses or repeats an event.

Failures speak storage: a lost race is :class:`~payment_intent.ports.IntegrityError`; a server that
is down, restarting or slow to hand out a lock is :class:`~payment_intent.ports.OperationalError`,
raised within ``connect_timeout`` (or ``lock_timeout``) rather than after a long wait; a value the
database cannot hold (a NUL character in text) is :class:`~payment_intent.ports.DataError`. The
store keeps its own connections (see :class:`_Connections`), so it works again as soon as the
server accepts connections.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any, TypeVar

import psycopg
import psycopg.errors
from psycopg import pq, sql
from psycopg.conninfo import conninfo_to_dict

from payment_intent.adapters import _sql
from payment_intent.domain.errors import parameter_invalid
from payment_intent.domain.model import Event, PaymentIntent
from payment_intent.ports import (
    Claim,
    Commit,
    DataError,
    IdempotencyRecord,
    IntegrityError,
    ListQuery,
    OperationalError,
    RefundQuery,
    StorageError,
)

T = TypeVar("T")
Connection = psycopg.Connection[tuple[Any, ...]]

#: SQLSTATEs ``payment_intent_commit_check`` raises: the version, the key, the settled claim or the
#: new claim was refused.
_INTENT_CONFLICT = "PI001"
_KEY_CONFLICT = "PI002"
_SETTLE_CONFLICT = "PI003"
_CLAIM_CONFLICT = "PI004"

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
    # 3: claims. A claim lives in its own table; because a statement at READ COMMITTED checks other
    # tables against the snapshot it started with, the row it must conflict with also carries it:
    # an intent's claimed_by names the attempt claiming it (every write of the intent requires it to
    # be empty or settled), and a claimed key holds a reservation in the idempotency table (a row
    # with claimed_by set and no expiry), so a record or claim racing for the key waits for it.
    # Also the index the purge of expired records walks, and the check of the new commit shape.
    (
        """CREATE TABLE payment_intent_claims (
            intent_id text COLLATE "C" PRIMARY KEY,
            attempt_id text NOT NULL,
            expected_version integer NOT NULL,
            operation text NOT NULL,
            params json NOT NULL,
            idempotency_key text COLLATE "C" UNIQUE,
            fingerprint text NOT NULL,
            created bigint NOT NULL,
            expires_at bigint NOT NULL
        )""",
        "ALTER TABLE payment_intents ADD COLUMN claimed_by text",
        "ALTER TABLE payment_intent_idempotency ADD COLUMN claimed_by text",
        """CREATE INDEX payment_intent_idempotency_by_expiry
            ON payment_intent_idempotency (expires_at)""",
        f"""CREATE FUNCTION payment_intent_commit_check(settled boolean, intent_written boolean,
                record_written boolean, claimed boolean)
                RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
            BEGIN
                IF NOT settled THEN
                    RAISE EXCEPTION 'the settled claim is no longer held'
                        USING ERRCODE = '{_SETTLE_CONFLICT}';
                END IF;
                IF NOT intent_written THEN
                    RAISE EXCEPTION 'the intent is not at the expected version, or is claimed'
                        USING ERRCODE = '{_INTENT_CONFLICT}';
                END IF;
                IF NOT record_written THEN
                    RAISE EXCEPTION 'the idempotency key is taken'
                        USING ERRCODE = '{_KEY_CONFLICT}';
                END IF;
                IF NOT claimed THEN
                    RAISE EXCEPTION 'the claim was refused'
                        USING ERRCODE = '{_CLAIM_CONFLICT}';
                END IF;
                RETURN true;
            END
        $$""",
        # Deletes up to how_many records expired by expired_by (not spare's), longest expired
        # first, skipping any another transaction is deleting; returns how many went. A function
        # so that its statement is planned for the table as it is on every call (custom plans):
        # a prepared commit's plan, made once while the table was small, would read the whole
        # table to find them. The rows go by ctid, the ones the subquery found and locked.
        """CREATE FUNCTION payment_intent_purge(expired_by bigint, spare text, how_many integer)
                RETURNS integer LANGUAGE plpgsql VOLATILE
                SET plan_cache_mode = force_custom_plan AS $$
            DECLARE
                gone integer;
            BEGIN
                DELETE FROM payment_intent_idempotency WHERE ctid = ANY (ARRAY(
                    SELECT ctid FROM payment_intent_idempotency
                    WHERE expires_at <= expired_by AND key IS DISTINCT FROM spare
                    ORDER BY expires_at LIMIT how_many FOR UPDATE SKIP LOCKED
                ));
                GET DIAGNOSTICS gone = ROW_COUNT;
                RETURN gone;
            END
        $$""",
    ),
    # 4: the refund index. Refunds live in their intent's body; this table finds the intent of a
    # refund id and lists refunds newest first, overall, by intent and by charge. Each list index
    # INCLUDEs the columns a page returns or filters on, so a page is an index-only walk. Refunds
    # an intent already holds (written before this step) are indexed from its body.
    (
        """CREATE TABLE payment_intent_refunds (
            id text COLLATE "C" PRIMARY KEY,
            intent_id text COLLATE "C" NOT NULL,
            charge_id text COLLATE "C" NOT NULL,
            created bigint NOT NULL
        )""",
        """CREATE INDEX payment_intent_refunds_by_created
            ON payment_intent_refunds (created, id) INCLUDE (intent_id)""",
        """CREATE INDEX payment_intent_refunds_by_intent
            ON payment_intent_refunds (intent_id, created, id) INCLUDE (charge_id)""",
        """CREATE INDEX payment_intent_refunds_by_charge
            ON payment_intent_refunds (charge_id, created, id) INCLUDE (intent_id)""",
        """INSERT INTO payment_intent_refunds (id, intent_id, charge_id, created)
            SELECT refund->>'id', payment_intents.id, refund->>'charge',
                (refund->>'created')::bigint
            FROM payment_intents, json_array_elements(payment_intents.body->'refunds') AS refund
            ON CONFLICT (id) DO NOTHING""",
    ),
)

#: ``pg_advisory_xact_lock`` key that serialises schema migrations between processes.
_MIGRATION_LOCK = 0x7061796D656E74  # "payment"

#: A claimed key's reservation never expires: no purge takes it, no record replaces it.
_RESERVED_UNTIL = 2**63 - 1

#: Errors that mean another transaction won: a unique key, a serialisation check, a deadlock.
_LOST_RACES = (
    psycopg.errors.UniqueViolation,
    psycopg.errors.SerializationFailure,
    psycopg.errors.DeadlockDetected,
)


class _Connections:
    """The store's connections: at most ``max_size``, each lent to one thread at a time.

    A call that finds no idle connection opens one itself, within ``timeout``, so the store works
    again as soon as the server accepts connections (a pool that reconnects in the background
    waits out its back-off instead). An idle connection with unread input is dropped before it is
    lent: the server sends nothing to a healthy idle session, and a restarting server sends its
    farewell and closes.
    """

    def __init__(
        self, dsn: str, max_size: int, timeout: float, configure: Callable[[Connection], None]
    ) -> None:
        self._dsn, self._max_size, self._timeout, self._configure = (
            dsn,
            max_size,
            timeout,
            configure,
        )
        self._idle: list[Connection] = []
        self._open = 0  # lent out or idle
        self._changed = threading.Condition()
        self._closed = False
        self._pid = os.getpid()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        connection = self.take()
        try:
            yield connection
        finally:
            self.give_back(connection)

    def take(self) -> Connection:
        deadline = time.monotonic() + self._timeout
        while True:
            with self._changed:
                self._forget_after_fork()
                while not self._idle and self._open >= self._max_size and not self._closed:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise OperationalError(
                            f"No PostgreSQL connection came free within {self._timeout:g} s: all "
                            f"{self._max_size} are in use (raise max_size or connect_timeout)."
                        )
                    self._changed.wait(remaining)
                if self._closed:
                    raise StorageError("The PostgresStore is closed.")
                idle = self._idle.pop() if self._idle else None
                if idle is None:
                    self._open += 1
            if idle is None:
                return self._connect(deadline)
            if _alive(idle):
                return idle
            self._drop(idle)

    def give_back(self, connection: Connection) -> None:
        healthy = (
            not connection.closed
            and connection.info.transaction_status == pq.TransactionStatus.IDLE
        )
        with self._changed:
            if healthy and not self._closed and self._pid == os.getpid():
                self._idle.append(connection)
                self._changed.notify()
                return
        self._drop(connection)

    def _connect(self, deadline: float) -> Connection:
        try:
            # libpq counts its connect_timeout in whole seconds.
            seconds = max(1, round(deadline - time.monotonic()))
            connection = psycopg.connect(self._dsn, autocommit=True, connect_timeout=seconds)
            try:
                self._configure(connection)
            except BaseException:
                connection.close()
                raise
            return connection
        except BaseException as error:
            with self._changed:
                self._open -= 1
                self._changed.notify()
            if isinstance(error, psycopg.Error):
                raise OperationalError(f"Could not connect to PostgreSQL: {error}") from error
            raise

    def _drop(self, connection: Connection) -> None:
        with self._changed:
            if self._pid == os.getpid():
                self._open -= 1
            self._changed.notify()
        connection.close()

    def _forget_after_fork(self) -> None:
        """A forked child must not touch its parent's connections: it starts with none."""
        if self._pid != os.getpid():
            self._idle, self._open, self._pid = [], 0, os.getpid()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            idle, self._idle = self._idle, []
            self._changed.notify_all()
        for connection in idle:
            connection.close()


def _alive(connection: Connection) -> bool:
    """Whether an idle connection can be lent: not closed, and nothing unread on its socket."""
    if connection.closed:
        return False
    if hasattr(select, "poll"):  # one system call, for any descriptor number
        poller = select.poll()
        poller.register(connection.fileno(), select.POLLIN)
        return not poller.poll(0)
    readable, _, _ = select.select([connection.fileno()], [], [], 0)
    return not readable


class PostgresStore:
    """A store in a PostgreSQL database, created and migrated on first use.

    :param dsn: a libpq connection string or URL; the tables live in the connection's
        ``search_path`` schema.
    :param min_size: connections opened at once.
    :param max_size: the most connections the store keeps.
    :param lock_timeout: seconds a write waits for a row lock.
    :param connect_timeout: seconds a call waits for a connection (a new one from the server,
        or a free one when all are busy).

    A timeout, like any failure of the database, raises
    :class:`~payment_intent.ports.OperationalError`.
    """

    migrations: tuple[tuple[str, ...], ...] = MIGRATIONS

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        lock_timeout: float = 5.0,
        connect_timeout: float = 2.0,
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
        self.connect_timeout = float(connect_timeout)
        # The latest time by which a commit's purge left no expired record: a record written at
        # or before it has none to look for (records expire a time-to-live after they are
        # written). Set by this process's commits once they land; other processes look for
        # themselves, and the sweep purges too.
        self._purged_until: int | None = None
        self._connections = _Connections(dsn, max_size, self.connect_timeout, self._configure)
        try:
            self._migrate()
            opened = [self._connections.take() for _ in range(min_size)]
            for connection in opened:
                self._connections.give_back(connection)
        except psycopg.Error as error:
            self._connections.close()
            raise _storage_error(error) from error
        except BaseException:
            self._connections.close()
            raise

    def _configure(self, connection: Connection) -> None:
        connection.execute(
            sql.SQL("SET lock_timeout = {}").format(
                sql.Literal(f"{int(self.lock_timeout * 1000)}ms")
            )
        )

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        with self._connections.connection() as connection:
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
        def version(connection: Connection) -> int:
            row = connection.execute("SELECT version FROM payment_intent_schema").fetchone()
            return int(row[0]) if row is not None else 0

        return self._repeatable(version)

    # -- reads ---------------------------------------------------------------------------------

    def _repeatable(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` (a read, or a write that may be repeated); once more on a fresh connection
        if the first one broke."""
        for attempt in (1, 2):
            with self._connection() as connection:
                try:
                    return work(connection)
                except (psycopg.Error, *_sql.UNREPRESENTABLE) as error:
                    if attempt == 2 or not connection.broken:
                        raise _storage_error(error) from error
        raise AssertionError("unreachable: the second attempt returns or raises")

    def load(self, intent_id: str) -> PaymentIntent | None:
        row = self._repeatable(
            lambda connection: connection.execute(
                "SELECT body::text FROM payment_intents WHERE id = %s", (intent_id,)
            ).fetchone()
        )
        return PaymentIntent.model_validate_json(row[0]) if row is not None else None

    def idempotency_record(self, key: str) -> IdempotencyRecord | None:
        # A row with claimed_by set is a claim's reservation of the key, not a record.
        row = self._repeatable(
            lambda connection: connection.execute(
                "SELECT key, fingerprint, created, expires_at, response::text"
                " FROM payment_intent_idempotency WHERE key = %s AND claimed_by IS NULL",
                (key,),
            ).fetchone()
        )
        return _sql.load_record(row) if row is not None else None

    def claim(self, intent_id: str) -> Claim | None:
        return self._claim("intent_id", intent_id)

    def claim_for_key(self, key: str) -> Claim | None:
        return self._claim("idempotency_key", key)

    def _claim(self, column: str, value: str) -> Claim | None:
        columns = _sql.CLAIM_COLUMNS.replace("params", "params::text")
        row = self._repeatable(
            lambda connection: connection.execute(
                f"SELECT {columns} FROM payment_intent_claims WHERE {column} = %s", (value,)
            ).fetchone()
        )
        return _sql.load_claim(row) if row is not None else None

    def list_intents(self, query: ListQuery) -> list[PaymentIntent]:
        statement, params = list_statement(query)
        # Never prepared: the right index depends on the values (a rare status walks its own
        # index, a common one may walk (created, id)), and a prepared statement may settle on
        # one generic plan for every value. Planning a page costs a fraction of a millisecond.
        rows = self._repeatable(
            lambda connection: connection.execute(statement, params, prepare=False).fetchall()
        )
        return [PaymentIntent.model_validate_json(body) for _, _, body in rows]

    def due_authorizations(self, now: int, limit: int) -> list[str]:
        rows = self._repeatable(
            lambda connection: connection.execute(
                "SELECT id FROM payment_intents"
                f" WHERE status = '{_sql.HELD}' AND capture_before_at <= %s"
                " ORDER BY capture_before_at, id LIMIT %s",
                (now, limit),
            ).fetchall()
        )
        return [intent_id for (intent_id,) in rows]

    def refund_owner(self, refund_id: str) -> str | None:
        row = self._repeatable(
            lambda connection: connection.execute(
                "SELECT intent_id FROM payment_intent_refunds WHERE id = %s", (refund_id,)
            ).fetchone()
        )
        return str(row[0]) if row is not None else None

    def list_refunds(self, query: RefundQuery) -> list[tuple[str, str]]:
        statement, params = _sql.refunds_sql(query, "%s")
        rows = self._repeatable(lambda connection: connection.execute(statement, params).fetchall())
        return [(refund_id, intent_id) for refund_id, intent_id in rows]

    def event_position(self, event_id: str) -> int | None:
        row = self._repeatable(
            lambda connection: connection.execute(
                "SELECT sequence FROM payment_intent_events WHERE id = %s", (event_id,)
            ).fetchone()
        )
        return int(row[0]) if row is not None else None

    def read_events(self, after_sequence: int, limit: int) -> list[Event]:
        rows = self._repeatable(
            lambda connection: connection.execute(
                "SELECT sequence, body::text FROM payment_intent_events WHERE sequence > %s"
                " ORDER BY sequence LIMIT %s",
                (after_sequence, limit),
            ).fetchall()
        )
        return [_sql.load_event(int(sequence), body) for sequence, body in rows]

    # -- writes --------------------------------------------------------------------------------

    def commit(self, commit: Commit) -> None:
        purges = _purges(commit, self._purged_until)
        statement = _statement(commit, self._purged_until)
        for attempt in (1, 2):
            with self._connection() as connection:
                try:
                    cursor = connection.execute(*statement)
                    if purges and commit.idempotency is not None:
                        expired = cursor.fetchone()
                        if expired is not None and expired[-1] < 2:
                            self._purged_until = commit.idempotency.created
                    return
                except (psycopg.Error, *_sql.UNREPRESENTABLE) as error:
                    if attempt == 2 or not connection.broken:
                        raise _storage_error(error, commit) from error
                    failure = error
            # The connection broke with the commit in flight: it may have landed. Look on a fresh
            # connection, and send it again only if it did not.
            if self._landed(commit, failure):
                return

    def commit_many(self, commits: Sequence[Commit]) -> list[IntegrityError | None]:
        """Apply each commit as if alone, all in one transaction: one WAL flush for the lot.

        A commit that conflicts writes nothing (it runs in its own savepoint) and its error takes
        its place in the result; ``None`` marks one that was written. For work that needs no
        answer between commits, like the expiry sweep. The event counter's row lock is held until
        the end, so keep batches to a few hundred commits.
        """
        statements: list[tuple[str, dict[str, Any]] | IntegrityError] = []
        for commit in commits:
            try:
                statements.append(_statement(commit))
            except IntegrityError as error:
                statements.append(error)
        for attempt in (1, 2):
            results: list[IntegrityError | None] = []
            with self._connection() as connection:
                try:
                    with connection.transaction():
                        for commit, statement in zip(commits, statements, strict=True):
                            if isinstance(statement, IntegrityError):
                                results.append(statement)
                                continue
                            try:
                                with connection.transaction():  # a savepoint
                                    connection.execute(*statement)
                            except psycopg.Error as error:
                                lost_race = _storage_error(error, commit)
                                if not isinstance(lost_race, IntegrityError):
                                    raise
                                results.append(lost_race)
                            else:
                                results.append(None)
                    return results
                except (psycopg.Error, *_sql.UNREPRESENTABLE) as error:
                    if attempt == 2 or not connection.broken:
                        raise _storage_error(error) from error
                    failure = error
            # The batch is one transaction: it landed if its first written commit did.
            written = [c for c, r in zip(commits, results, strict=False) if r is None]
            if len(results) == len(commits) and written and self._landed(written[0], failure):
                return results
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _landed(self, commit: Commit, failure: Exception) -> bool:
        """Whether a commit whose connection broke in flight is stored (read on a fresh connection).

        Raises OperationalError when that cannot be told, the database being unreachable still.
        """
        try:
            with self._connection() as connection:
                row = connection.execute(*_landed_statement(commit)).fetchone()
                return row is not None and bool(row[0])
        except (psycopg.Error, OperationalError) as error:
            raise OperationalError(
                f"The connection to PostgreSQL broke while a commit was in flight ({failure}), "
                f"and whether it was stored cannot be told yet ({error})."
            ) from failure

    def purge_idempotency(self, now: int, limit: int) -> int:
        # Deleting what has expired twice deletes nothing more, so this may be repeated too.
        return self._repeatable(
            lambda connection: _count(connection.execute(_PURGE_SQL, {"now": now, "limit": limit}))
        )

    # -- housekeeping ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the store's connections; the store cannot be used afterwards."""
        self._connections.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return "PostgresStore()"


def _count(cursor: psycopg.Cursor[tuple[Any, ...]]) -> int:
    row = cursor.fetchone()
    return int(row[0]) if row is not None else 0


def _storage_error(error: BaseException, commit: Commit | None = None) -> StorageError:
    """The port's error for a failure of PostgreSQL, of the connection or of a value."""
    state = getattr(error, "sqlstate", None)
    if commit is not None:
        if state == _INTENT_CONFLICT and commit.intent is not None:
            return _sql.version_conflict(commit.intent.id, commit.expected_version)
        if state == _KEY_CONFLICT and commit.idempotency is not None:
            return _sql.key_conflict(commit.idempotency.key)
        if state == _SETTLE_CONFLICT and commit.settles is not None:
            return _sql.settled_conflict(commit.settles)
        if state == _CLAIM_CONFLICT and commit.claim is not None:
            return _sql.claim_conflict(commit.claim)
    if isinstance(error, (*_LOST_RACES, psycopg.IntegrityError)):
        return IntegrityError(f"A concurrent request changed the same records first: {error}")
    if isinstance(error, (psycopg.DataError, *_sql.UNREPRESENTABLE)):
        return DataError(f"PostgreSQL cannot hold a value of this request: {error}")
    if isinstance(error, psycopg.errors.LockNotAvailable):
        return OperationalError(
            f"Another transaction held the same rows past lock_timeout: {error}"
        )
    if isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError)):
        return OperationalError(f"PostgreSQL failed or could not be reached: {error}")
    return StorageError(f"PostgreSQL refused the request: {error}")


# -- the statements ---------------------------------------------------------------------------
#
# A commit is one statement of data-modifying CTEs, all run against one snapshot. Where one part
# must follow another, it refers to it (PostgreSQL runs the parts in an order of its choosing
# otherwise): the record after the intent, a claim's key and row after its intent. Every row a
# commit takes is therefore locked intent first, key second, so racing commits do not deadlock.

_SETTLE_SQL = """settled AS (
        DELETE FROM payment_intent_claims
        WHERE intent_id = %(settles_intent)s AND attempt_id = %(settles_attempt)s
        RETURNING idempotency_key
    ),
    unreserved AS (
        DELETE FROM payment_intent_idempotency
        WHERE key IN (SELECT idempotency_key FROM settled) AND claimed_by = %(settles_attempt)s
        {other_key}
    )"""
# A claim released by a commit that does not write its intent clears the intent's mark itself.
_UNMARK_SQL = """unmarked AS (
        UPDATE payment_intents SET claimed_by = NULL
        WHERE id = %(settles_intent)s AND claimed_by = %(settles_attempt)s
    )"""
_INTENT_SQL = {
    # A new intent: a row that already has the id means another request created it first.
    True: """INSERT INTO payment_intents
        (id, version, created, customer, status, capture_before_at, body)
        SELECT %(id)s::text, %(version)s::integer, %(created)s::bigint, %(customer)s::text,
            %(status)s::text, %(due)s::bigint, %(body)s::json
        WHERE NOT EXISTS (SELECT FROM payment_intent_claims
            WHERE intent_id = %(id)s AND attempt_id IS DISTINCT FROM %(own_attempt)s)
        ON CONFLICT (id) DO NOTHING RETURNING 1""",
    False: """UPDATE payment_intents SET version = %(version)s, created = %(created)s,
        customer = %(customer)s, status = %(status)s, capture_before_at = %(due)s, body = %(body)s,
        claimed_by = NULL
        WHERE id = %(id)s AND version = %(expected)s
            AND claimed_by IS NOT DISTINCT FROM %(own_attempt)s
        RETURNING 1""",
}
# The written intent's refunds, indexed where they are not yet (an entry never changes). After the
# intent, which it refers to: nothing is indexed for an intent that was not written.
_REFUNDS_SQL = """indexed AS (
        INSERT INTO payment_intent_refunds (id, intent_id, charge_id, created)
        SELECT refund.id, %(id)s::text, refund.charge_id, refund.created
        FROM unnest(%(refund_ids)s::text[], %(refund_charges)s::text[],
            %(refund_created)s::bigint[]) AS refund (id, charge_id, created)
        WHERE EXISTS (SELECT FROM intent)
        ON CONFLICT (id) DO NOTHING
    )"""
# Up to two records that expired by the new one's time. The check refers to it, which runs it
# before the counter is locked (a CTE that only reads runs when read), and the statement returns
# how many went.
_PURGE_IN_COMMIT_SQL = """purged AS (
        SELECT payment_intent_purge(%(record_created)s, %(key)s, 2) AS expired
    )"""
# A key is free when unused or expired by the new request, or reserved by the claim it settles.
_RECORD_SQL = """record AS (
        INSERT INTO payment_intent_idempotency (key, fingerprint, created, expires_at, response)
        SELECT %(key)s::text, %(fingerprint)s::text, %(record_created)s::bigint,
            %(expires_at)s::bigint, %(response)s::json
        {after_intent}
        ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint,
            created = excluded.created, expires_at = excluded.expires_at,
            response = excluded.response, claimed_by = NULL
        WHERE payment_intent_idempotency.expires_at <= excluded.created
            OR payment_intent_idempotency.claimed_by = %(settles_attempt)s
        RETURNING 1
    )"""
_CLAIM_INTENT_SQL = {
    # An intent not yet stored: its id is new, from the command that claims it.
    True: """claim_intent AS (
        SELECT 1 WHERE NOT EXISTS (SELECT FROM payment_intents WHERE id = %(claim_intent)s)
    )""",
    False: """claim_intent AS (
        UPDATE payment_intents SET claimed_by = %(claim_attempt)s
        WHERE id = %(claim_intent)s AND version = %(claim_expected)s AND claimed_by IS NULL
        RETURNING 1
    )""",
}
_RESERVE_SQL = """reserved AS (
        INSERT INTO payment_intent_idempotency
            (key, fingerprint, created, expires_at, response, claimed_by)
        SELECT %(claim_key)s::text, %(claim_fingerprint)s::text, %(claim_created)s::bigint,
            %(reserved_until)s::bigint, 'null'::json, %(claim_attempt)s::text
        WHERE EXISTS (SELECT FROM claim_intent)
        ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint,
            created = excluded.created, expires_at = excluded.expires_at,
            response = excluded.response, claimed_by = excluded.claimed_by
        WHERE payment_intent_idempotency.expires_at <= excluded.created
        RETURNING 1
    )"""
_CLAIM_SQL = f"""claim AS (
        INSERT INTO payment_intent_claims ({_sql.CLAIM_COLUMNS})
        SELECT %(claim_intent)s::text, %(claim_attempt)s::text, %(claim_expected)s::integer,
            %(claim_operation)s::text, %(claim_params)s::json, %(claim_key)s::text,
            %(claim_fingerprint)s::text, %(claim_created)s::bigint, %(claim_expires_at)s::bigint
        WHERE EXISTS (SELECT FROM claim_intent) {{after_reserved}}
        ON CONFLICT DO NOTHING RETURNING 1
    )"""
# Last, and only once the checks passed, so the counter's row lock is held only for the event
# insert and the commit. The WHERE clause refers to no column of the counter: PostgreSQL runs it
# once, before it reads (and locks) the row, and that runs the other parts first.
_EVENTS_SQL = """counter AS (
        UPDATE payment_intent_event_counter SET last_sequence = last_sequence + %(count)s
        WHERE {check} RETURNING last_sequence
    )
    INSERT INTO payment_intent_events (sequence, id, intent_id, intent_version, type, created, body)
    SELECT counter.last_sequence - %(count)s + event.position, event.id, event.intent_id,
        event.intent_version, event.type, event.created, event.body
    FROM counter, unnest(%(event_ids)s::text[], %(event_intents)s::text[],
        %(event_versions)s::integer[], %(event_types)s::text[], %(event_created)s::bigint[],
        %(event_bodies)s::json[])
        WITH ORDINALITY AS event (id, intent_id, intent_version, type, created, body, position)"""
_PURGE_SQL = "SELECT payment_intent_purge(%(now)s, NULL, %(limit)s)"


@cache
def _commit_sql(
    new_intent: bool | None,
    record: bool,
    events: bool,
    settles: bool,
    unmark: bool,
    new_claim: bool | None,
    keyed_claim: bool,
    purge: bool,
    refunds: bool,
) -> str:
    """The one statement for a commit of this shape (``new_intent`` / ``new_claim`` are ``None``
    when the commit writes no intent / takes no claim; ``purge``: its record deletes expired ones,
    and the statement returns how many; ``refunds``: its intent holds refunds to index).

    The check makes the statement fail, and so roll back as a whole, when a part found its row
    taken: ``payment_intent_commit_check`` raises the SQLSTATE that says which.
    """
    parts: list[str] = []
    settled = intent = recorded = claimed = "true"
    if settles:
        # The claim's reservation of its key goes too, unless this commit's record replaces it.
        parts.append(_SETTLE_SQL.format(other_key="AND key <> %(key)s" if record else ""))
        if unmark:
            parts.append(_UNMARK_SQL)
        settled = "EXISTS (SELECT FROM settled)"
    if new_intent is not None:
        parts.append(f"intent AS ({_INTENT_SQL[new_intent]})")
        intent = "EXISTS (SELECT FROM intent)"
        if refunds:
            parts.append(_REFUNDS_SQL)
    if record:
        after_intent = "WHERE EXISTS (SELECT FROM intent)" if new_intent is not None else ""
        parts.append(_RECORD_SQL.format(after_intent=after_intent))
        recorded = "EXISTS (SELECT FROM record)"
        if purge:
            parts.append(_PURGE_IN_COMMIT_SQL)
            recorded += " AND EXISTS (SELECT FROM purged)"
    expired = ", (SELECT expired FROM purged)" if record and purge else ""
    if new_claim is not None:
        parts.append(_CLAIM_INTENT_SQL[new_claim])
        if keyed_claim:
            parts.append(_RESERVE_SQL)
        after_reserved = "AND EXISTS (SELECT FROM reserved)" if keyed_claim else ""
        parts.append(_CLAIM_SQL.format(after_reserved=after_reserved))
        claimed = "EXISTS (SELECT FROM claim)"
    check = f"payment_intent_commit_check({settled}, {intent}, {recorded}, {claimed})"
    if events:
        returning = f" RETURNING {expired[2:]}" if expired else ""
        parts.append(_EVENTS_SQL.format(check=check) + returning)
        return "WITH " + ",\n".join(parts)
    return ("WITH " + ",\n".join(parts) + "\n" if parts else "") + f"SELECT {check}{expired}"


def _statement(commit: Commit, purged_until: int | None = None) -> tuple[str, dict[str, Any]]:
    """The SQL of one commit and its parameters: one round trip, one implicit transaction.

    ``purged_until``: the latest time by which this process found no expired record left; a
    record written at or before it does not look for any."""
    _sql.check_claim_shape(commit)
    intent, record, claim, settles = commit.intent, commit.idempotency, commit.claim, commit.settles
    if intent is not None and intent.version != commit.expected_version + 1:
        raise _sql.bad_version(intent, commit.expected_version)
    params: dict[str, Any] = {
        "settles_intent": settles.intent_id if settles is not None else None,
        "settles_attempt": settles.attempt_id if settles is not None else None,
    }
    try:
        body = None
        if intent is not None:
            intent_id, version, created, customer, status, due, body = _sql.intent_row(intent)
            own = settles is not None and settles.intent_id == intent_id
            params.update(
                id=intent_id,
                version=version,
                created=created,
                customer=customer,
                status=status,
                due=due,
                body=body,
                expected=commit.expected_version,
                own_attempt=params["settles_attempt"] if own else None,
            )
            refunds = _sql.refund_rows(intent)
            params.update(
                refund_ids=[refund[0] for refund in refunds],
                refund_charges=[refund[2] for refund in refunds],
                refund_created=[refund[3] for refund in refunds],
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
        if claim is not None:
            names = (
                *("intent", "attempt", "expected", "operation", "params", "key"),
                *("fingerprint", "created", "expires_at"),
            )
            row = _sql.claim_row(claim)
            params.update({f"claim_{name}": value for name, value in zip(names, row, strict=True)})
            params["reserved_until"] = _RESERVED_UNTIL
        if commit.events:
            rows = [_sql.event_row(event) for event in commit.events]
            params.update(
                count=len(rows),
                event_ids=[row[0] for row in rows],
                event_intents=[row[1] for row in rows],
                event_versions=[row[2] for row in rows],
                event_types=[row[3] for row in rows],
                event_created=[row[4] for row in rows],
                event_bodies=[row[5] for row in rows],
            )
    except _sql.UNREPRESENTABLE as error:
        raise DataError(f"PostgreSQL cannot hold a value of this commit: {error}") from error
    unmark = settles is not None and (intent is None or intent.id != settles.intent_id)
    shape = _commit_sql(
        None if intent is None else commit.expected_version == 0,
        record is not None,
        bool(commit.events),
        settles is not None,
        unmark,
        None if claim is None else claim.expected_version == 0,
        claim is not None and claim.idempotency_key is not None,
        _purges(commit, purged_until),
        intent is not None and bool(intent.refunds),
    )
    return shape, params


def _purges(commit: Commit, purged_until: int | None) -> bool:
    """Whether the commit's record looks for expired ones to delete."""
    record = commit.idempotency
    return record is not None and (purged_until is None or record.created > purged_until)


def _landed_statement(commit: Commit) -> tuple[str, tuple[Any, ...]]:
    """A query whose one value says whether ``commit`` is stored, by what only it wrote."""
    if commit.intent is not None:
        body = _sql.intent_row(commit.intent)[6]
        return (
            "SELECT EXISTS (SELECT FROM payment_intents WHERE id = %s AND body::text = %s)",
            (commit.intent.id, body),
        )
    if commit.claim is not None:
        return (
            "SELECT EXISTS (SELECT FROM payment_intent_claims"
            " WHERE intent_id = %s AND attempt_id = %s)",
            (commit.claim.intent_id, commit.claim.attempt_id),
        )
    if commit.idempotency is not None:
        record = commit.idempotency
        return (
            "SELECT EXISTS (SELECT FROM payment_intent_idempotency"
            " WHERE key = %s AND fingerprint = %s AND created = %s AND claimed_by IS NULL)",
            (record.key, record.fingerprint, record.created),
        )
    if commit.settles is not None:
        return (
            "SELECT NOT EXISTS (SELECT FROM payment_intent_claims"
            " WHERE intent_id = %s AND attempt_id = %s)",
            (commit.settles.intent_id, commit.settles.attempt_id),
        )
    if commit.events:
        return (
            "SELECT EXISTS (SELECT FROM payment_intent_events WHERE id = %s)",
            (commit.events[0].id,),
        )
    return "SELECT true", ()


def list_statement(query: ListQuery) -> tuple[str, list[Any]]:
    """The SQL of one list page on this store, and its parameters (its plan is tested)."""
    return _sql.list_sql(
        query,
        "%s",
        received="(body->>'amount_received')::bigint",
        body="body::text",
        limit_each_arm=True,
    )
