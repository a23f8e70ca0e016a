"""The refund tests of the store contract earn their keep: each finds a planted indexing bug.

Every broken store below is the in-memory store with a refund index of its own, a plain list of
entries read the obvious way, and one bug in how it is written or read. The honest version passes
every refund test, so a failure of a broken one is that bug's doing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from payment_intent.adapters.memory import InMemoryStore
from payment_intent.domain.model import PaymentIntent, Refund
from payment_intent.ports import Commit, IntegrityError, RefundQuery
from payment_intent.testing.contract import BatchStoreContract, store_refunds

#: ``(created, refund id, intent id, charge id)``
Entry = tuple[int, str, str, str]


class ListedRefunds(InMemoryStore):
    """An honest refund index: entries added after the commit succeeded, each refund once; a batch
    is its commits one after another."""

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[Entry] = []

    def commit(self, commit: Commit) -> None:
        super().commit(commit)
        if commit.intent is not None:
            self.index(commit.intent, commit.expected_version)

    def index(self, intent: PaymentIntent, expected_version: int) -> None:
        known = {entry[1] for entry in self.entries}
        for refund in intent.refunds:
            if refund.id not in known:
                self.entries.append((refund.created, refund.id, intent.id, refund.charge))

    def commit_many(self, commits: Sequence[Commit]) -> list[IntegrityError | None]:
        results: list[IntegrityError | None] = []
        for commit in commits:
            try:
                self.commit(commit)
            except IntegrityError as error:
                results.append(error)
            else:
                results.append(None)
        return results

    def refund_owner(self, refund_id: str) -> str | None:
        return next((entry[2] for entry in self.entries if entry[1] == refund_id), None)

    def list_refunds(self, query: RefundQuery) -> list[tuple[str, str]]:
        chosen = [
            entry
            for entry in self.matching(query)
            if (query.after is None or entry[:2] < query.after)
            and (query.before is None or entry[:2] > query.before)
        ]
        chosen.sort(reverse=self.newest_first(query))
        return [(refund_id, intent_id) for _, refund_id, intent_id, _ in chosen[: query.limit]]

    def matching(self, query: RefundQuery) -> list[Entry]:
        return [
            entry
            for entry in self.entries
            if query.payment_intent in (None, entry[2]) and query.charge in (None, entry[3])
        ]

    def newest_first(self, query: RefundQuery) -> bool:
        return query.before is None


class IndexesLostCommits(ListedRefunds):
    """Indexes the refunds before the commit is checked, so a losing commit leaves entries."""

    def commit(self, commit: Commit) -> None:
        if commit.intent is not None:
            self.index(commit.intent, commit.expected_version)
        InMemoryStore.commit(self, commit)


class IndexesNewIntentsOnly(ListedRefunds):
    """Indexes the refunds of an intent's first version only, missing every refund added later."""

    def index(self, intent: PaymentIntent, expected_version: int) -> None:
        if expected_version == 0:
            super().index(intent, expected_version)


class IndexesEveryVersion(ListedRefunds):
    """Adds an entry for each refund at every commit, so a refund edited later is listed twice."""

    def index(self, intent: PaymentIntent, expected_version: int) -> None:
        self.entries.extend((r.created, r.id, intent.id, r.charge) for r in intent.refunds)


class DropsTheChargeBesideAnIntent(ListedRefunds):
    """Filters by intent alone when both an intent and a charge are given."""

    def matching(self, query: RefundQuery) -> list[Entry]:
        if query.payment_intent is not None:
            return [entry for entry in self.entries if entry[2] == query.payment_intent]
        return super().matching(query)


class BeforePagesNewestFirst(ListedRefunds):
    """Returns a ``before`` page newest first: the service would turn it the wrong way round."""

    def newest_first(self, query: RefundQuery) -> bool:
        return True


class IndexesNothingInABatch(ListedRefunds):
    """A batch store whose ``commit_many`` writes the intents but forgets their refunds."""

    def commit_many(self, commits: Sequence[Commit]) -> list[IntegrityError | None]:
        results: list[IntegrityError | None] = []
        for commit in commits:
            try:
                InMemoryStore.commit(self, commit)
            except IntegrityError as error:
                results.append(error)
            else:
                results.append(None)
        return results


class _Contract(BatchStoreContract):
    """The contract's tests, called one at a time on a store chosen by each test below."""

    def make_store(self, tmp_path: Path) -> ListedRefunds:
        return ListedRefunds()


CONTRACT = _Contract()


def _with_refunds(
    check: Callable[[ListedRefunds, list[Refund]], None],
) -> Callable[[ListedRefunds], None]:
    """A contract test that takes the stored refunds, as a call on a store alone."""

    def run(store: ListedRefunds) -> None:
        check(store, store_refunds(store))

    return run


#: The refund tests, each as a call on a fresh store.
REFUND_TESTS: dict[str, Callable[[ListedRefunds], None]] = {
    "found by id": _with_refunds(CONTRACT.test_every_refund_an_intent_holds_is_found_by_its_id),
    "newest first": _with_refunds(CONTRACT.test_refunds_list_newest_first_with_ties_broken_by_id),
    "filters": _with_refunds(
        CONTRACT.test_refund_filters_by_intent_by_charge_and_by_both_select_exactly_the_matching_refunds
    ),
    "after cursor": _with_refunds(
        lambda store, refunds: CONTRACT.test_the_after_cursor_pages_through_refunds_once(
            store, refunds, of_first_intent=True, limit=2
        )
    ),
    "before cursor": _with_refunds(
        lambda store, refunds: (
            CONTRACT.test_the_before_cursor_returns_the_newer_refunds_oldest_first(
                store, refunds, limit=3
            )
        )
    ),
    "limit": _with_refunds(CONTRACT.test_limit_caps_a_page_of_refunds),
    "lost commit": CONTRACT.test_a_commit_that_loses_indexes_none_of_its_refunds,
    "edited refund": CONTRACT.test_a_refund_edited_in_later_versions_is_still_indexed_once,
    "batch": CONTRACT.test_a_batch_indexes_the_refunds_of_the_commits_it_writes_only,
}


@pytest.mark.parametrize("name", REFUND_TESTS)
def test_the_honest_index_passes_every_refund_test(name: str) -> None:
    REFUND_TESTS[name](ListedRefunds())


@pytest.mark.parametrize(
    ("broken", "caught_by"),
    [
        (IndexesLostCommits, "lost commit"),
        (IndexesNewIntentsOnly, "found by id"),
        (IndexesEveryVersion, "edited refund"),
        (DropsTheChargeBesideAnIntent, "filters"),
        (BeforePagesNewestFirst, "before cursor"),
        (IndexesNothingInABatch, "batch"),
    ],
)
def test_a_planted_indexing_bug_fails_the_refund_test_that_pins_it(
    broken: type[ListedRefunds], caught_by: str
) -> None:
    with pytest.raises(AssertionError):
        REFUND_TESTS[caught_by](broken())
