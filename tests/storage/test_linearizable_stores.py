"""The concurrent runner and its linearizability verdict, proved on real bugs and real stores.

Two stores with a planted race are caught and cut down to a handful of calls: one checks the
version and writes in two steps, the other does not check it at all. The three shipped stores
pass, on threads and, for the durable ones, on processes that each open the store.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from hypothesis import Phase, given, settings
from hypothesis.errors import FlakyFailure

from payment_intent import InMemoryStore, SQLiteStore
from payment_intent.ports import Commit, IntegrityError, Store
from payment_intent.testing import (
    NotLinearizable,
    Program,
    assert_linearizable,
    programs,
    run_concurrently,
)

#: Each drawn program runs this often: a race shows in most runs, not all, and Hypothesis must see
#: a failing program fail again when it shrinks it and when it replays the smallest one.
RUNS = 4
#: The commands a lost update shows in most often: edits that succeed in any unpaid status.
WRITES = ("retrieve", "create", "update", "confirm", "capture", "cancel")


class CheckThenWrite(InMemoryStore):
    """Planted bug: the version is compared, then the write lands on whatever is stored by then
    (a SELECT, then an UPDATE without ``WHERE version = ...``)."""

    def commit(self, commit: Commit) -> None:
        if commit.intent is not None:
            if self._version(commit.intent.id) != commit.expected_version:
                raise IntegrityError("stale version")
            time.sleep(0.002)  # the window another request commits in
            commit = _on_top(commit, self._version(commit.intent.id))
        super().commit(commit)

    def _version(self, intent_id: str) -> int:
        stored = self.load(intent_id)
        return stored.version if stored is not None else 0


class LastWriterWins(CheckThenWrite):
    """Planted bug: no version check at all; every write lands on what is stored."""

    def commit(self, commit: Commit) -> None:
        if commit.intent is not None:
            commit = _on_top(commit, self._version(commit.intent.id))
        InMemoryStore.commit(self, commit)


def _on_top(commit: Commit, stored_version: int) -> Commit:
    """The commit as if it had been decided on the stored version."""
    assert commit.intent is not None
    intent = commit.intent.model_copy(update={"version": stored_version + 1})
    return dataclasses.replace(commit, intent=intent, expected_version=stored_version)


def caught(failure: BaseException) -> NotLinearizable:
    """The verdict a hunt raised. A race is timing: a program that raced once may not race when
    Hypothesis runs it again, which it reports as a flaky failure holding the verdict found."""
    if isinstance(failure, NotLinearizable):
        return failure
    assert isinstance(failure, FlakyFailure), failure
    [verdict] = [e for e in failure.exceptions if isinstance(e, NotLinearizable)][:1]
    return verdict


def check_every_run(program: Program, make_store: Callable[[], Store]) -> None:
    for _ in range(RUNS):
        store = make_store()
        try:
            assert_linearizable(run_concurrently(program, store))
        finally:
            store.close()


def test_a_store_that_checks_the_version_apart_from_its_write_is_caught_in_a_few_calls() -> None:
    @settings(max_examples=60, deadline=None, database=None, report_multiple_bugs=False)
    @given(program=programs(workers=2, calls=5, commands=WRITES))
    def racing(program: Program) -> None:
        check_every_run(program, CheckThenWrite)

    with pytest.raises((NotLinearizable, FlakyFailure)) as found:
        racing()
    verdict = caught(found.value).verdict
    counterexample = verdict.counterexample
    assert 2 < len(counterexample) <= 4, str(found.value)
    assert counterexample[0].step.operation == "create"


def test_a_store_without_a_version_check_is_caught() -> None:
    # Found is enough here: the test above shows the shrinking, which is most of its time.
    @settings(max_examples=60, deadline=None, database=None, phases=[Phase.generate])
    @given(program=programs(commands=WRITES))
    def racing(program: Program) -> None:
        check_every_run(program, LastWriterWins)

    with pytest.raises((NotLinearizable, FlakyFailure)) as found:
        racing()
    assert caught(found.value).verdict.counterexample[0].step.operation == "create"


def test_the_in_memory_store_is_linearizable() -> None:
    @settings(max_examples=25, deadline=None, database=None)
    @given(program=programs())
    def racing(program: Program) -> None:
        check_every_run(program, InMemoryStore)

    racing()


def test_the_sqlite_store_is_linearizable_on_threads(tmp_path: Path) -> None:
    path = tmp_path / "races.sqlite3"

    @settings(max_examples=8, deadline=None, database=None)
    @given(program=programs())
    def racing(program: Program) -> None:
        assert_linearizable(run_concurrently(program, SQLiteStore(path)))

    racing()


def postgres_url(dsn: str) -> str:
    """The test server's key-value DSN as the URL a store is named by."""
    from psycopg.conninfo import conninfo_to_dict

    return "postgresql://?" + urlencode(conninfo_to_dict(dsn), quote_via=quote)


def test_the_postgres_store_is_linearizable_on_threads(postgres_dsn: str) -> None:
    url = postgres_url(postgres_dsn)

    @settings(max_examples=4, deadline=None, database=None)
    @given(program=programs())
    def racing(program: Program) -> None:
        assert_linearizable(run_concurrently(program, store_url=url))

    racing()


@pytest.fixture(params=["sqlite", "postgres"])
def durable_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'races.sqlite3'}"
    return postgres_url(request.getfixturevalue("postgres_dsn"))


def test_durable_stores_are_linearizable_on_processes(durable_store_url: str) -> None:
    @settings(max_examples=3, deadline=None, database=None)
    @given(program=programs(workers=3, calls=10, min_calls=10))
    def racing(program: Program) -> None:
        history = run_concurrently(program, store_url=durable_store_url, processes=True)
        assert {call.worker for call in history.calls} >= {"p0", "p1", "p2"}
        assert_linearizable(history)

    racing()
