"""The connections a store keeps to its SQLite file.

The intents' :class:`~payment_intent.adapters.sqlite.SQLiteStore` and the webhooks' store keep
their tables in the same file, so they open it the same way: in WAL mode, so readers never wait
for the writer, with ``synchronous=NORMAL`` (a crashed process loses nothing it committed), each
write one ``BEGIN IMMEDIATE`` transaction that waits up to ``busy_timeout`` for its turn.
Connections are kept idle between calls: one kept keeps its page cache and parsed schema, and
opening one costs a file open and its pragmas, more than most calls' statements.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


class SQLiteConnections:
    """Connections of this process to the SQLite file at ``path``, each lent to one thread at a
    time and then kept for the next call.

    :param busy_timeout: seconds a statement waits for another writer, and a new connection for
        another process's switch of a new file to WAL.
    :param idle: the most connections kept between calls.
    :param pragmas: statements run on every new connection once it is in WAL mode.
    :param closed_error: what a call raises once :meth:`close` has run (each store speaks its
        own errors).
    :param not_wal_error: what opening raises, given the journal mode, when the file stays out
        of WAL mode; ``None`` accepts the file as it is.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        busy_timeout: float,
        *,
        idle: int,
        pragmas: Sequence[str] = (),
        closed_error: Callable[[], Exception],
        not_wal_error: Callable[[str], Exception] | None = None,
    ) -> None:
        self._path = Path(path)
        self._busy_timeout = busy_timeout
        self._max_idle = idle
        self._pragmas = tuple(pragmas)
        self._closed_error = closed_error
        self._not_wal_error = not_wal_error
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit mode, this thread's until the block ends."""
        with self._lock:
            if self._closed:
                raise self._closed_error()
            if self._pid != os.getpid():
                # A forked child must not touch its parent's connections: forget them.
                self._idle, self._pid = [], os.getpid()
            connection = self._idle.pop() if self._idle else None
        if connection is None:
            connection = self._open()
        try:
            yield connection
        finally:
            with self._lock:
                keep = not self._closed and len(self._idle) < self._max_idle
                if keep:
                    self._idle.append(connection)
            if not keep:
                connection.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed when the block ends and rolled back if it raises.

        Begun IMMEDIATE so that it holds the write lock from the start: no other writer commits
        between what it reads and what it writes, and it waits its turn at BEGIN, up to
        ``busy_timeout``, where a deferred transaction whose snapshot went stale would fail at
        its first write.
        """
        with self.connection() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise

    def close(self) -> None:
        """Close every idle connection; a connection lent out is closed when it comes back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self._path,
            timeout=self._busy_timeout,
            isolation_level=None,  # autocommit: transactions are begun explicitly
            check_same_thread=False,  # a connection moves between threads, never shared at once
        )
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            mode = self._enter_wal(connection)
            if mode != "wal" and self._not_wal_error is not None:
                raise self._not_wal_error(mode)
            connection.execute("PRAGMA synchronous = NORMAL")
            for pragma in self._pragmas:
                connection.execute(pragma)
        except BaseException:
            connection.close()
            raise
        return connection

    def _enter_wal(self, connection: sqlite3.Connection) -> str:
        """Switch the file to WAL (a no-op once it is) and return its journal mode. Switching
        needs the file to itself, and SQLite answers "locked" at once, without its busy handler,
        while another process opens or switches the same new file: so wait here, up to
        ``busy_timeout``."""
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                return str(connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
            except sqlite3.OperationalError as error:
                if not is_busy(error) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.005)


def is_busy(error: sqlite3.OperationalError) -> bool:
    """Whether ``error`` says another connection holds the lock the statement needed."""
    return getattr(error, "sqlite_errorcode", None) in (
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
    ) or "locked" in str(error)
