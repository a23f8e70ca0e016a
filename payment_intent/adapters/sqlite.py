"""The SQLite store: the embedded default for anything that must outlive the process.

One database file holds intents, their events and idempotency records. The file runs in WAL mode,
so readers never wait for the writer, with ``synchronous=NORMAL``: a crashed process loses nothing
it committed (a power cut may lose the last few commits, never consistency). Several threads and
several processes may share a file: each write is one ``BEGIN IMMEDIATE`` transaction, which SQLite
runs one at a time across every process, waiting up to ``busy_timeout`` for its turn.

That serialisation is also what orders the event feed: an event's ``sequence`` is its row id,
assigned inside the writing transaction, so sequence order is commit order and a reader that
resumes after its last sequence never misses or repeats an event.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from payment_intent.adapters import _sql
from payment_intent.domain.errors import ConcurrencyError, parameter_invalid
from payment_intent.domain.model import Event, PaymentIntent
from payment_intent.ports import Commit, IdempotencyRecord, ListQuery

#: Forward migrations: entry ``n`` takes a file from schema version ``n`` to ``n + 1``.
#: The file's version is ``PRAGMA user_version``; a step is never edited once released.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE payment_intents (
            id TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            created INTEGER NOT NULL,
            customer TEXT,
            status TEXT NOT NULL,
            capture_before_at INTEGER,
            body TEXT NOT NULL
        )""",
        "CREATE INDEX payment_intents_by_created ON payment_intents (created, id)",
        "CREATE INDEX payment_intents_by_customer ON payment_intents (customer, created, id)",
        "CREATE INDEX payment_intents_by_status ON payment_intents (status, created, id)",
        """CREATE INDEX payment_intents_by_customer_status
            ON payment_intents (customer, status, created, id)""",
        f"""CREATE INDEX payment_intents_due ON payment_intents (capture_before_at, id)
            WHERE status = '{_sql.HELD}'""",
        """CREATE TABLE payment_intent_events (
            sequence INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            intent_id TEXT NOT NULL,
            intent_version INTEGER NOT NULL,
            type TEXT NOT NULL,
            created INTEGER NOT NULL,
            body TEXT NOT NULL
        )""",
        """CREATE INDEX payment_intent_events_by_intent
            ON payment_intent_events (intent_id, intent_version)""",
        """CREATE TABLE payment_intent_idempotency (
            key TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            created INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            response TEXT NOT NULL
        )""",
    ),
    # 2: fewer B-trees written per commit. In WAL mode every page a commit touches is a frame
    # written to the log, so each B-tree an insert reaches costs a page write. Events keep their
    # rowid positions without AUTOINCREMENT's extra row in sqlite_sequence (events are never
    # deleted, so max(rowid) + 1 is the same number), and the (intent_id, intent_version) index,
    # which no query reads, goes.
    (
        """CREATE TABLE payment_intent_events_2 (
            sequence INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            intent_id TEXT NOT NULL,
            intent_version INTEGER NOT NULL,
            type TEXT NOT NULL,
            created INTEGER NOT NULL,
            body TEXT NOT NULL
        )""",
        """INSERT INTO payment_intent_events_2
            (sequence, id, intent_id, intent_version, type, created, body)
            SELECT sequence, id, intent_id, intent_version, type, created, body
            FROM payment_intent_events ORDER BY sequence""",
        "DROP TABLE payment_intent_events",
        "ALTER TABLE payment_intent_events_2 RENAME TO payment_intent_events",
    ),
)

#: Pages the write-ahead log may grow to before a commit copies it back into the database file.
#: SQLite's default, 1,000 pages, is reached every ~100 commits of ~10 pages each, and with
#: synchronous=NORMAL every checkpoint is an fsync: at 16,384 pages (64 MiB) they are rare.
WAL_AUTOCHECKPOINT_PAGES = 16_384
#: Page cache per connection, in KiB (SQLite's default is 2 MiB): the upper levels of the five
#: intent indexes of a million-intent file stay cached.
CACHE_KIB = 32_768

_INSERT_INTENT = (
    "INSERT INTO payment_intents"
    " (id, version, created, customer, status, capture_before_at, body)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
)
# A command changes status, hold and body; ``created`` never, ``customer`` rarely. Naming only the
# changed columns lets SQLite leave the (created, id) and (customer, created, id) indexes alone;
# the customer and created conditions send a changed customer to the full update.
_UPDATE_INTENT = (
    "UPDATE payment_intents SET version = ?, status = ?, capture_before_at = ?, body = ?"
    " WHERE id = ? AND version = ? AND created = ? AND customer IS ?"
)
_UPDATE_INTENT_ALL = (
    "UPDATE payment_intents SET version = ?, created = ?, customer = ?,"
    " status = ?, capture_before_at = ?, body = ?"
    " WHERE id = ? AND version = ?"
)
# A key is free when unused or expired by the time of the new request.
_UPSERT_RECORD = (
    "INSERT INTO payment_intent_idempotency"
    " (key, fingerprint, created, expires_at, response)"
    " VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint,"
    " created = excluded.created, expires_at = excluded.expires_at,"
    " response = excluded.response"
    " WHERE payment_intent_idempotency.expires_at <= excluded.created"
)
_INSERT_EVENT = (
    "INSERT INTO payment_intent_events"
    " (id, intent_id, intent_version, type, created, body)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)

_IDLE_CONNECTIONS = 8


class SQLiteStore:
    """A store in one SQLite file, created and migrated on first use.

    ``path`` is a file path (``":memory:"`` is refused: a store must be shareable). ``busy_timeout``
    is how many seconds a write waits for another writer before it fails with
    :class:`~payment_intent.errors.ConcurrencyError` (code ``lock_timeout``).
    """

    migrations: tuple[tuple[str, ...], ...] = MIGRATIONS

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 10.0) -> None:
        if not isinstance(path, str | os.PathLike) or str(path) in ("", ":memory:"):
            raise parameter_invalid("path", "SQLiteStore needs the path of a database file.")
        if isinstance(busy_timeout, bool) or not isinstance(busy_timeout, int | float):
            raise parameter_invalid("busy_timeout", "busy_timeout must be a number of seconds.")
        if busy_timeout < 0:
            raise parameter_invalid("busy_timeout", "busy_timeout cannot be negative.")
        self.path = Path(path)
        self.busy_timeout = float(busy_timeout)
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._closed = False
        with self._connection() as connection:
            self._migrate(connection)

    # -- connections ---------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout,
            isolation_level=None,  # autocommit: transactions are begun explicitly
            check_same_thread=False,  # a connection moves between threads, never shared at once
        )
        connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        mode = self._enter_wal(connection)
        if mode != "wal":
            connection.close()
            raise parameter_invalid("path", f"{self.path} cannot be opened in WAL mode ({mode}).")
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        connection.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        return connection

    def _enter_wal(self, connection: sqlite3.Connection) -> str:
        """Switch the file to WAL (a no-op once it is). Switching needs the file to itself, and
        SQLite answers "locked" at once, without its busy handler, while another process opens or
        switches the same new file: so wait here, up to ``busy_timeout``."""
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                return str(connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
            except sqlite3.OperationalError as error:
                if not _is_busy(error) or time.monotonic() >= deadline:
                    connection.close()
                    raise _lock_timeout(error) if _is_busy(error) else error from error
                time.sleep(0.005)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection of this process, used by one thread at a time and then kept for reuse."""
        with self._lock:
            if self._closed:
                raise sqlite3.ProgrammingError(f"{self!r} is closed.")
            if self._pid != os.getpid():
                # A forked child must not touch its parent's connections: forget them.
                self._idle, self._pid = [], os.getpid()
            connection = self._idle.pop() if self._idle else None
        if connection is None:
            connection = self._connect()
        try:
            yield connection
        finally:
            with self._lock:
                keep = not self._closed and len(self._idle) < _IDLE_CONNECTIONS
                if keep:
                    self._idle.append(connection)
            if not keep:
                connection.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, begun IMMEDIATE so that it holds the write lock from the start."""
        with self._connection() as connection:
            try:
                connection.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                if _is_busy(error):
                    raise _lock_timeout(error) from error
                raise
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise

    def _migrate(self, connection: sqlite3.Connection) -> None:
        target = len(self.migrations)
        if _user_version(connection) == target:
            return
        connection.execute("BEGIN IMMEDIATE")  # several processes may open a new file at once
        try:
            current = _user_version(connection)
            if current > target:
                raise parameter_invalid(
                    "path",
                    f"{self.path} has schema version {current}; this payment_intent knows "
                    f"versions up to {target}. Upgrade payment_intent to open it.",
                )
            for step in self.migrations[current:]:
                for statement in step:
                    connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {target}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    @property
    def schema_version(self) -> int:
        with self._connection() as connection:
            return _user_version(connection)

    # -- reads ---------------------------------------------------------------------------------

    def load(self, intent_id: str) -> PaymentIntent | None:
        with self._connection() as connection:
            row = connection.execute(
                "SELECT body FROM payment_intents WHERE id = ?", (intent_id,)
            ).fetchone()
        return PaymentIntent.model_validate_json(row[0]) if row is not None else None

    def idempotency_record(self, key: str) -> IdempotencyRecord | None:
        with self._connection() as connection:
            row = connection.execute(
                "SELECT key, fingerprint, created, expires_at, response"
                " FROM payment_intent_idempotency WHERE key = ?",
                (key,),
            ).fetchone()
        return _sql.load_record(row) if row is not None else None

    def list_intents(self, query: ListQuery) -> list[PaymentIntent]:
        sql, params = _sql.list_sql(query, "?")
        with self._connection() as connection:
            rows = connection.execute(sql, params).fetchall()
        return [PaymentIntent.model_validate_json(body) for (body,) in rows]

    def due_authorizations(self, now: int, limit: int) -> list[str]:
        with self._connection() as connection:
            # INDEXED BY: without statistics the planner may prefer the status index and sort
            # every live hold; the partial index makes the cost follow the due ones only.
            rows = connection.execute(
                "SELECT id FROM payment_intents INDEXED BY payment_intents_due"
                f" WHERE status = '{_sql.HELD}' AND capture_before_at <= ?"
                " ORDER BY capture_before_at, id LIMIT ?",
                (now, limit),
            ).fetchall()
        return [intent_id for (intent_id,) in rows]

    def event_position(self, event_id: str) -> int | None:
        with self._connection() as connection:
            row = connection.execute(
                "SELECT sequence FROM payment_intent_events WHERE id = ?", (event_id,)
            ).fetchone()
        return int(row[0]) if row is not None else None

    def read_events(self, after_sequence: int, limit: int) -> list[Event]:
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT sequence, body FROM payment_intent_events WHERE sequence > ?"
                " ORDER BY sequence LIMIT ?",
                (after_sequence, limit),
            ).fetchall()
        return [_sql.load_event(sequence, body) for sequence, body in rows]

    # -- the one write ---------------------------------------------------------------------------

    def commit(self, commit: Commit) -> None:
        # Everything is serialised before the write lock is taken.
        rows = _Rows(commit)
        try:
            with self._transaction() as connection:
                _write(connection, rows)
        except sqlite3.IntegrityError as error:
            raise _integrity_conflict(error) from error
        except sqlite3.OperationalError as error:
            if _is_busy(error):
                raise _lock_timeout(error) from error
            raise

    def commit_many(self, commits: Sequence[Commit]) -> list[ConcurrencyError | None]:
        """Apply each commit as if alone, all in one transaction: one WAL commit for the lot.

        A commit that conflicts writes nothing (it runs in its own savepoint) and its error takes
        its place in the result; ``None`` marks one that was written. For work that needs no
        answer between commits, like the expiry sweep. Raises ``ConcurrencyError``
        (``lock_timeout``) when the write lock does not come within ``busy_timeout``.
        """
        prepared: list[_Rows | ConcurrencyError] = []
        for commit in commits:
            try:
                prepared.append(_Rows(commit))
            except ConcurrencyError as error:
                prepared.append(error)
        results: list[ConcurrencyError | None] = []
        try:
            with self._transaction() as connection:
                for rows in prepared:
                    if isinstance(rows, ConcurrencyError):
                        results.append(rows)
                        continue
                    connection.execute("SAVEPOINT payment_intent_commit")
                    try:
                        _write(connection, rows)
                    except (ConcurrencyError, sqlite3.IntegrityError) as error:
                        connection.execute("ROLLBACK TO payment_intent_commit")
                        results.append(
                            _integrity_conflict(error)
                            if isinstance(error, sqlite3.IntegrityError)
                            else error
                        )
                    else:
                        results.append(None)
                    connection.execute("RELEASE payment_intent_commit")
        except sqlite3.OperationalError as error:
            if _is_busy(error):
                raise _lock_timeout(error) from error
            raise
        return results

    # -- housekeeping ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close every idle connection; the store cannot be used afterwards."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"


class _Rows:
    """A commit's rows, serialised (the intent once: the events' snapshots are the same text)."""

    __slots__ = ("events", "expected", "intent", "record")

    def __init__(self, commit: Commit) -> None:
        intent, self.expected = commit.intent, commit.expected_version
        if intent is not None and intent.version != self.expected + 1:
            raise _sql.bad_version(intent, self.expected)
        self.intent = _sql.intent_row(intent) if intent is not None else None
        body = self.intent[6] if self.intent is not None else None
        self.events = [_sql.event_row(event, intent, body) for event in commit.events]
        record = commit.idempotency
        self.record = _sql.record_row(record) if record is not None else None


def _write(connection: sqlite3.Connection, rows: _Rows) -> None:
    """The statements of one commit, inside the caller's write transaction."""
    row, expected = rows.intent, rows.expected
    if row is not None:
        if expected == 0:
            written = connection.execute(_INSERT_INTENT, row).rowcount
        else:
            intent_id, version, created, customer, status, due, body = row
            written = connection.execute(
                _UPDATE_INTENT, (version, status, due, body, intent_id, expected, created, customer)
            ).rowcount
            if written == 0:
                written = connection.execute(
                    _UPDATE_INTENT_ALL, (*row[1:], intent_id, expected)
                ).rowcount
        if written != 1:
            raise _sql.version_conflict(row[0], expected)
    if rows.record is not None and connection.execute(_UPSERT_RECORD, rows.record).rowcount != 1:
        raise _sql.key_conflict(rows.record[0])
    if len(rows.events) == 1:
        connection.execute(_INSERT_EVENT, rows.events[0])
    elif rows.events:
        connection.executemany(_INSERT_EVENT, rows.events)


def _integrity_conflict(error: sqlite3.IntegrityError) -> ConcurrencyError:
    return ConcurrencyError(
        f"A concurrent request stored the same record first: {error}",
        code="concurrent_modification",
    )


def _user_version(connection: sqlite3.Connection) -> int:
    return int(connection.execute("PRAGMA user_version").fetchone()[0])


def _is_busy(error: sqlite3.OperationalError) -> bool:
    return getattr(error, "sqlite_errorcode", None) in (
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
    ) or "locked" in str(error)


def _lock_timeout(error: sqlite3.OperationalError) -> ConcurrencyError:
    return ConcurrencyError(
        f"The database stayed locked by another writer past busy_timeout: {error}",
        code="lock_timeout",
    )
