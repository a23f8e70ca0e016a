"""The SQLite store: the embedded default for anything that must outlive the process.

One database file holds intents, their events, idempotency records, claims and the index of the
refunds the intents hold. The file runs in WAL
mode, so readers never wait for the writer, with ``synchronous=NORMAL``: a crashed process loses
nothing it committed (a power cut may lose the last few commits, never consistency). Several
threads and several processes may share a file: each write is one ``BEGIN IMMEDIATE``
transaction, which SQLite runs one at a time across every process, waiting up to ``busy_timeout``
for its turn. Because writes never overlap, every check a commit makes (the version, a claim, a
key) is a plain condition inside its transaction.

That serialisation is also what orders the event feed: an event's ``sequence`` is its row id,
assigned inside the writing transaction, so sequence order is commit order and a reader that
resumes after its last sequence never misses or repeats an event.

Failures speak storage: a lost race is :class:`~payment_intent.ports.IntegrityError`, a lock held
past ``busy_timeout`` or a failing file :class:`~payment_intent.ports.OperationalError`, a value
SQLite cannot hold (an integer beyond 64 bits, a lone surrogate)
:class:`~payment_intent.ports.DataError`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from payment_intent.adapters import _sql
from payment_intent.adapters.sqlite_connections import SQLiteConnections, is_busy
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
    # 3: claims, and an index to delete expired idempotency records by. A claim is small and read
    # by its intent, so the table is clustered on intent_id (WITHOUT ROWID: one B-tree, not two);
    # the key column is unique where it is set.
    (
        """CREATE TABLE payment_intent_claims (
            intent_id TEXT PRIMARY KEY,
            attempt_id TEXT NOT NULL,
            expected_version INTEGER NOT NULL,
            operation TEXT NOT NULL,
            params TEXT NOT NULL,
            idempotency_key TEXT UNIQUE,
            fingerprint TEXT NOT NULL,
            created INTEGER NOT NULL,
            expires_at INTEGER NOT NULL
        ) WITHOUT ROWID""",
        """CREATE INDEX payment_intent_idempotency_by_expiry
            ON payment_intent_idempotency (expires_at)""",
    ),
    # 4: the refund index. Refunds live in their intent's body; this table finds the intent of a
    # refund id and lists refunds newest first, overall, by intent and by charge. Clustered on
    # the refund id (WITHOUT ROWID), and each list index also holds the columns a page returns or
    # filters on, so a page reads its own index entries and nothing else. Refunds an intent
    # already holds (written before this step) are indexed from its body.
    (
        """CREATE TABLE payment_intent_refunds (
            id TEXT PRIMARY KEY,
            intent_id TEXT NOT NULL,
            charge_id TEXT NOT NULL,
            created INTEGER NOT NULL
        ) WITHOUT ROWID""",
        """CREATE INDEX payment_intent_refunds_by_created
            ON payment_intent_refunds (created, id, intent_id)""",
        """CREATE INDEX payment_intent_refunds_by_intent
            ON payment_intent_refunds (intent_id, created, id, charge_id)""",
        """CREATE INDEX payment_intent_refunds_by_charge
            ON payment_intent_refunds (charge_id, created, id, intent_id)""",
        """INSERT INTO payment_intent_refunds (id, intent_id, charge_id, created)
            SELECT json_extract(refund.value, '$.id'), payment_intents.id,
                json_extract(refund.value, '$.charge'), json_extract(refund.value, '$.created')
            FROM payment_intents, json_each(payment_intents.body, '$.refunds') AS refund
            WHERE true ON CONFLICT (id) DO NOTHING""",
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
# Whether a claim holds the intent, and the key, that a commit writes (one look for both; the
# claim a commit settles is deleted before it looks). A check of its own rather than a condition
# in each write: SQLite runs an INSERT ... SELECT at two to three times the cost of its VALUES.
_CLAIMED = (
    "SELECT EXISTS (SELECT 1 FROM payment_intent_claims WHERE intent_id = ?),"
    " EXISTS (SELECT 1 FROM payment_intent_claims WHERE idempotency_key = ?)"
)
# The records that expired longest ago, through the expiry index; rowids, so the delete does not
# look each one up by key.
_PURGE = (
    "DELETE FROM payment_intent_idempotency WHERE rowid IN (SELECT rowid"
    " FROM payment_intent_idempotency WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)"
)
# A key is free when its record is unused or expired by the time of the new request.
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
# A claim needs its intent at the expected version (0: not stored) and its key free of live
# records; the primary and unique keys refuse a second claim of the intent or of the key.
_INSERT_CLAIM = (
    f"INSERT INTO payment_intent_claims ({_sql.CLAIM_COLUMNS})"
    " SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?"
    " WHERE coalesce((SELECT version FROM payment_intents WHERE id = ?), 0) = ?"
    " AND NOT EXISTS (SELECT 1 FROM payment_intent_idempotency"
    " WHERE key = ? AND expires_at > ?)"
    " ON CONFLICT DO NOTHING"
)
_SETTLE = "DELETE FROM payment_intent_claims WHERE intent_id = ? AND attempt_id = ?"
# Every refund of the written intent, indexed where it is not yet: entries never change.
_INDEX_REFUND = (
    "INSERT INTO payment_intent_refunds (id, intent_id, charge_id, created)"
    " VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
)

_IDLE_CONNECTIONS = 8


class SQLiteStore:
    """A store in one SQLite file, created and migrated on first use.

    :param path: the database file (``":memory:"`` is refused: a store must be shareable).
    :param busy_timeout: seconds a write waits for another writer before it fails with
        :class:`~payment_intent.ports.OperationalError`.
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
        self._connections = SQLiteConnections(
            self.path,
            self.busy_timeout,
            idle=_IDLE_CONNECTIONS,
            pragmas=(
                f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}",
                f"PRAGMA cache_size = -{CACHE_KIB}",
            ),
            closed_error=lambda: StorageError(f"{self!r} is closed."),
            not_wal_error=lambda mode: parameter_invalid(
                "path", f"{self.path} cannot be opened in WAL mode ({mode})."
            ),
        )
        # The latest time by which a commit's purge left no expired record: a commit at or before
        # it has none to look for (a record expires a time-to-live after it is written). Only
        # this process's commits set it, after they land; another process looks for itself.
        self._purged_until: int | None = None
        with self._connection() as connection:
            self._migrate(connection)

    # -- connections ---------------------------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection of this process, used by one thread at a time and then kept for reuse.

        Every SQLite failure inside becomes the port's error (see :func:`_storage_error`).
        """
        with self._storage_errors(), self._connections.connection() as connection:
            yield connection

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, holding the write lock from its start."""
        with self._storage_errors(), self._connections.transaction() as connection:
            yield connection

    @contextmanager
    def _storage_errors(self) -> Iterator[None]:
        try:
            yield
        except (sqlite3.Error, *_sql.UNREPRESENTABLE) as error:
            raise _storage_error(error, self.busy_timeout) from error

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

    def claim(self, intent_id: str) -> Claim | None:
        return self._claim("intent_id", intent_id)

    def claim_for_key(self, key: str) -> Claim | None:
        return self._claim("idempotency_key", key)

    def _claim(self, column: str, value: str) -> Claim | None:
        with self._connection() as connection:
            row = connection.execute(
                f"SELECT {_sql.CLAIM_COLUMNS} FROM payment_intent_claims WHERE {column} = ?",
                (value,),
            ).fetchone()
        return _sql.load_claim(row) if row is not None else None

    def list_intents(self, query: ListQuery) -> list[PaymentIntent]:
        sql, params = list_statement(query)
        with self._connection() as connection:
            rows = connection.execute(sql, params).fetchall()
        return [PaymentIntent.model_validate_json(body) for _, _, body in rows]

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

    def refund_owner(self, refund_id: str) -> str | None:
        with self._connection() as connection:
            row = connection.execute(
                "SELECT intent_id FROM payment_intent_refunds WHERE id = ?", (refund_id,)
            ).fetchone()
        return str(row[0]) if row is not None else None

    def list_refunds(self, query: RefundQuery) -> list[tuple[str, str]]:
        sql, params = _sql.refunds_sql(query, "?")
        with self._connection() as connection:
            rows = connection.execute(sql, params).fetchall()
        return [(refund_id, intent_id) for refund_id, intent_id in rows]

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

    # -- writes --------------------------------------------------------------------------------

    def commit(self, commit: Commit) -> None:
        rows = _rows(commit)  # everything is serialised before the write lock is taken
        with self._transaction() as connection:
            purged_until = _write(connection, rows, self._purged_until)
        if purged_until is not None:
            self._purged_until = purged_until

    def commit_many(self, commits: Sequence[Commit]) -> list[IntegrityError | None]:
        """Apply each commit as if alone, all in one transaction: one WAL commit for the lot.

        A commit that conflicts writes nothing (it runs in its own savepoint) and its error takes
        its place in the result; ``None`` marks one that was written. For work that needs no
        answer between commits, like the expiry sweep.
        """
        prepared: list[_Rows | IntegrityError] = []
        for commit in commits:
            try:
                prepared.append(_rows(commit))
            except IntegrityError as error:
                prepared.append(error)
        results: list[IntegrityError | None] = []
        with self._transaction() as connection:
            for rows in prepared:
                if isinstance(rows, IntegrityError):
                    results.append(rows)
                    continue
                connection.execute("SAVEPOINT payment_intent_commit")
                try:
                    _write(connection, rows, None)
                except (IntegrityError, sqlite3.IntegrityError) as error:
                    connection.execute("ROLLBACK TO payment_intent_commit")
                    results.append(
                        error if isinstance(error, IntegrityError) else _integrity(error)
                    )
                else:
                    results.append(None)
                connection.execute("RELEASE payment_intent_commit")
        return results

    def purge_idempotency(self, now: int, limit: int) -> int:
        with self._transaction() as connection:
            return int(connection.execute(_PURGE, (now, limit)).rowcount)

    # -- housekeeping ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close every idle connection; the store cannot be used afterwards."""
        self._connections.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"


class _Rows:
    """A commit's rows, serialised (the intent once: the events' snapshots are the same text)."""

    __slots__ = ("claim", "events", "expected", "intent", "record", "refunds", "settles")

    def __init__(self, commit: Commit) -> None:
        intent, self.expected = commit.intent, commit.expected_version
        if intent is not None and intent.version != self.expected + 1:
            raise _sql.bad_version(intent, self.expected)
        self.intent = _sql.intent_row(intent) if intent is not None else None
        self.refunds = _sql.refund_rows(intent) if intent is not None else []
        self.events = [_sql.event_row(event) for event in commit.events]
        record = commit.idempotency
        self.record = _sql.record_row(record) if record is not None else None
        self.claim = commit.claim
        self.settles = commit.settles


def _rows(commit: Commit) -> _Rows:
    """The commit's rows, or DataError when a value cannot be written as SQLite text."""
    _sql.check_claim_shape(commit)
    try:
        return _Rows(commit)
    except _sql.UNREPRESENTABLE as error:
        raise DataError(f"SQLite cannot hold a value of this commit: {error}") from error


def _write(connection: sqlite3.Connection, rows: _Rows, purged_until: int | None) -> int | None:
    """The statements of one commit, inside the caller's write transaction, each checking what
    the ones before it left: settle, intent and its refunds' index entries, record, claim, events.

    Returns the record's ``created`` when its purge left no expired record (``purged_until``:
    the latest such time known, when the purge need not look at all)."""
    settles = rows.settles
    if settles is not None:
        released = connection.execute(_SETTLE, (settles.intent_id, settles.attempt_id)).rowcount
        if released != 1:
            raise _sql.settled_conflict(settles)
    row, expected, record = rows.intent, rows.expected, rows.record
    if row is not None or record is not None:
        intent_id = row[0] if row is not None else None
        key = record[0] if record is not None else None
        intent_claimed, key_claimed = connection.execute(_CLAIMED, (intent_id, key)).fetchone()
        if intent_claimed:
            raise _sql.version_conflict(str(intent_id), expected)
        if key_claimed:
            raise _sql.key_conflict(str(key))
    if row is not None:
        intent_id, version, created, customer, status, due, body = row
        if expected == 0:
            written = connection.execute(_INSERT_INTENT, row).rowcount
        else:
            narrow = (version, status, due, body, intent_id, expected, created, customer)
            written = connection.execute(_UPDATE_INTENT, narrow).rowcount
            if written == 0:
                written = connection.execute(
                    _UPDATE_INTENT_ALL, (*row[1:], intent_id, expected)
                ).rowcount
        if written != 1:
            raise _sql.version_conflict(intent_id, expected)
        if rows.refunds:
            connection.executemany(_INDEX_REFUND, rows.refunds)
    emptied = None
    if record is not None:
        # Each record written deletes up to two expired ones, so the table stays about one
        # time-to-live long however long the file is used.
        created = record[2]
        look = purged_until is None or created > purged_until
        if look and connection.execute(_PURGE, (created, 2)).rowcount < 2:
            emptied = created
        if connection.execute(_UPSERT_RECORD, record).rowcount != 1:
            raise _sql.key_conflict(record[0])
    claim = rows.claim
    if claim is not None:
        version_and_key = (claim.intent_id, claim.expected_version, claim.idempotency_key)
        inserted = connection.execute(
            _INSERT_CLAIM, (*_sql.claim_row(claim), *version_and_key, claim.created)
        ).rowcount
        if inserted != 1:
            raise _sql.claim_conflict(claim)
    if len(rows.events) == 1:
        connection.execute(_INSERT_EVENT, rows.events[0])
    elif rows.events:
        connection.executemany(_INSERT_EVENT, rows.events)
    return emptied


def _storage_error(error: BaseException, busy_timeout: float) -> StorageError:
    """The port's error for a failure of SQLite or of a value it was given."""
    if isinstance(error, sqlite3.IntegrityError):
        return _integrity(error)
    if isinstance(error, (sqlite3.DataError, *_sql.UNREPRESENTABLE)):
        return DataError(f"SQLite cannot hold a value of this request: {error}")
    if isinstance(error, sqlite3.OperationalError) and is_busy(error):
        return OperationalError(
            f"The database stayed locked by another writer for more than busy_timeout "
            f"({busy_timeout:g} s): {error}"
        )
    if isinstance(error, sqlite3.DatabaseError):
        return OperationalError(f"SQLite failed: {error}")
    return StorageError(f"SQLite refused the request: {error}")


def _integrity(error: sqlite3.IntegrityError) -> IntegrityError:
    return IntegrityError(f"A concurrent request stored the same record first: {error}")


def _user_version(connection: sqlite3.Connection) -> int:
    return int(connection.execute("PRAGMA user_version").fetchone()[0])


def list_statement(query: ListQuery) -> tuple[str, list[Any]]:
    """The SQL of one list page on this store, and its parameters (its plan is tested)."""
    # INDEXED BY: without statistics the planner may walk the status index for the lapsed holds;
    # the partial expiry index holds only live holds, so its walk is the lapsed ones.
    return _sql.list_sql(
        query,
        "?",
        received="json_extract(body, '$.amount_received')",
        lapsed_index="INDEXED BY payment_intents_due",
    )
