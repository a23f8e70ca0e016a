"""What every webhook store guarantees: one suite, subclassed per backend (as the intents'
``StoreContract``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import replace

import pytest

from payment_intent.webhooks.model import Attempt, Endpoint, NewDelivery, Result
from payment_intent.webhooks.storage import WebhookStore

NOW = 1_800_000_000.0
DAY = 24 * 3600.0


def endpoint(number: int, **changes: object) -> Endpoint:
    made = Endpoint(
        id=f"we_{number:04d}",
        dialect="casapay",
        livemode=False,
        url=f"http://127.0.0.1:9/hook{number}",
        enabled_events=("*",),
        secret=f"whsec_{number}",
        created=1706140800,
        updated=1706140800,
        cursor=0,
        metadata={"n": str(number)},
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def news(endpoint_id: str, *sequences: int) -> list[NewDelivery]:
    return [
        NewDelivery(endpoint_id, f"evt_{s}", s, "payment_intent.created", b'{"n":%d}' % s)
        for s in sequences
    ]


def attempt(
    target: str, event_id: str, number: int, outcome: str = "succeeded", at: float = NOW
) -> Attempt:
    retry = at + 60 if outcome == "retrying" else None
    code = 200 if outcome == "succeeded" else 500
    return Attempt(target, event_id, number, at, 0.01, code, None, outcome, retry)  # type: ignore[arg-type]


class WebhookStoreContract(ABC):
    @abstractmethod
    def make_hooks(self) -> WebhookStore: ...

    @pytest.fixture
    def hooks(self) -> WebhookStore:
        return self.make_hooks()

    # -- endpoints -------------------------------------------------------------------------------

    def test_an_endpoint_is_stored_and_read_back_whole(self, hooks: WebhookStore) -> None:
        made = endpoint(1, api_version="2024-06-20", description="orders", status="disabled")
        assert hooks.add_endpoint(made, 16)
        assert hooks.endpoint(made.id) == made
        assert hooks.endpoint("we_missing") is None

    def test_endpoints_are_listed_newest_first_and_paged_both_ways(
        self, hooks: WebhookStore
    ) -> None:
        for number in range(1, 6):
            hooks.add_endpoint(endpoint(number), 16)
        ids = [e.id for e in hooks.endpoints()]
        assert ids == ["we_0005", "we_0004", "we_0003", "we_0002", "we_0001"]
        assert [e.id for e in hooks.endpoints(2)] == ids[:2]
        assert [e.id for e in hooks.endpoints(2, after="we_0004")] == ["we_0003", "we_0002"]
        assert [e.id for e in hooks.endpoints(2, before="we_0002")] == ["we_0004", "we_0003"]

    def test_no_endpoint_is_added_past_the_limit(self, hooks: WebhookStore) -> None:
        assert hooks.add_endpoint(endpoint(1), 2)
        assert hooks.add_endpoint(endpoint(2), 2)
        assert not hooks.add_endpoint(endpoint(3), 2)
        assert hooks.endpoint("we_0003") is None

    def test_an_update_changes_the_settings_and_never_the_cursor(self, hooks: WebhookStore) -> None:
        hooks.add_endpoint(endpoint(1, cursor=7), 16)
        changed = endpoint(1, url="https://example.com/new", status="disabled", cursor=0)
        assert hooks.update_endpoint(changed)
        stored = hooks.endpoint("we_0001")
        assert stored == replace(changed, cursor=7)
        assert not hooks.update_endpoint(endpoint(2))

    def test_deleting_an_endpoint_takes_its_deliveries_and_attempts_along(
        self, hooks: WebhookStore
    ) -> None:
        hooks.add_endpoint(endpoint(1), 16)
        hooks.add_endpoint(endpoint(2), 16)
        hooks.fan_out(
            [("we_0001", 0, 1, news("we_0001", 1)), ("we_0002", 0, 1, news("we_0002", 1))], NOW
        )
        claimed = hooks.claim("we_0001", NOW, 10, NOW + 30, "w")
        hooks.record([Result(claimed[0], attempt("we_0001", "evt_1", 1))])
        assert hooks.delete_endpoint("we_0001")
        assert not hooks.delete_endpoint("we_0001")
        assert [d.endpoint_id for d in hooks.deliveries()] == ["we_0002"]
        assert hooks.attempts() == []

    # -- fan-out and claims ----------------------------------------------------------------------

    def test_fan_out_moves_a_cursor_only_from_the_value_read_and_makes_each_delivery_once(
        self, hooks: WebhookStore
    ) -> None:
        hooks.add_endpoint(endpoint(1), 16)
        assert hooks.fan_out([("we_0001", 0, 2, news("we_0001", 1, 2))], NOW) == 2
        # A second worker that read the same cursor writes nothing.
        assert hooks.fan_out([("we_0001", 0, 2, news("we_0001", 1, 2))], NOW) == 0
        stored = hooks.endpoint("we_0001")
        assert stored is not None
        assert stored.cursor == 2
        assert [(d.event_id, d.state, d.attempts) for d in hooks.deliveries("we_0001")] == [
            ("evt_1", "pending", 0),
            ("evt_2", "pending", 0),
        ]
        assert hooks.deliveries(event_id="evt_2")[0].body == b'{"n":2}'

    def test_a_claimed_delivery_is_leased_to_its_claimer_until_the_lease_lapses(
        self, hooks: WebhookStore
    ) -> None:
        hooks.add_endpoint(endpoint(1), 16)
        hooks.fan_out([("we_0001", 0, 3, news("we_0001", 1, 2, 3))], NOW)
        assert hooks.due_endpoints(NOW) == ["we_0001"]
        first = hooks.claim("we_0001", NOW, 2, NOW + 30, "a")
        assert [c.delivery.event_id for c in first] == ["evt_1", "evt_2"]
        assert first[0].url == "http://127.0.0.1:9/hook1"
        assert first[0].secret == "whsec_1"
        second = hooks.claim("we_0001", NOW, 10, NOW + 30, "b")
        assert [c.delivery.event_id for c in second] == ["evt_3"]
        assert hooks.claim("we_0001", NOW + 1, 10, NOW + 31, "c") == []
        assert hooks.due_endpoints(NOW + 1) == []
        lapsed = hooks.claim("we_0001", NOW + 30, 10, NOW + 60, "c")
        assert sorted(c.delivery.event_id for c in lapsed) == ["evt_1", "evt_2", "evt_3"]

    def test_a_disabled_endpoints_deliveries_wait(self, hooks: WebhookStore) -> None:
        hooks.add_endpoint(endpoint(1), 16)
        hooks.fan_out([("we_0001", 0, 1, news("we_0001", 1))], NOW)
        hooks.update_endpoint(endpoint(1, status="disabled"))
        assert hooks.due_endpoints(NOW) == []
        assert hooks.claim("we_0001", NOW, 10, NOW + 30, "a") == []
        hooks.update_endpoint(endpoint(1))
        assert len(hooks.claim("we_0001", NOW, 10, NOW + 30, "a")) == 1

    def test_an_attempt_is_recorded_only_under_the_lease_and_a_delivered_event_is_done(
        self, hooks: WebhookStore
    ) -> None:
        hooks.add_endpoint(endpoint(1), 16)
        hooks.fan_out([("we_0001", 0, 2, news("we_0001", 1, 2))], NOW)
        old = hooks.claim("we_0001", NOW, 10, NOW + 30, "old")
        new = hooks.claim("we_0001", NOW + 30, 10, NOW + 60, "new")  # the old lease lapsed
        assert hooks.record([Result(old[0], attempt("we_0001", "evt_1", 1))]) == 0
        done = [Result(c, attempt("we_0001", c.delivery.event_id, 1)) for c in new]
        assert hooks.record(done) == 2
        assert {d.state for d in hooks.deliveries()} == {"delivered"}
        assert hooks.claim("we_0001", NOW + 1000, 10, NOW + 2000, "later") == []
        assert hooks.due_endpoints(NOW + 1000) == []

    def test_a_retried_delivery_is_due_again_at_its_next_attempt(self, hooks: WebhookStore) -> None:
        hooks.add_endpoint(endpoint(1), 16)
        hooks.fan_out([("we_0001", 0, 1, news("we_0001", 1))], NOW)
        claimed = hooks.claim("we_0001", NOW, 10, NOW + 30, "w")
        hooks.record([Result(claimed[0], attempt("we_0001", "evt_1", 1, "retrying"))])
        (delivery,) = hooks.deliveries()
        assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == (
            "pending",
            1,
            NOW + 60,
        )
        assert hooks.claim("we_0001", NOW + 59, 10, NOW + 90, "w") == []
        (again,) = hooks.claim("we_0001", NOW + 60, 10, NOW + 90, "w")
        hooks.record([Result(again, attempt("we_0001", "evt_1", 2, "failed"))])
        assert hooks.deliveries()[0].state == "failed"
        assert hooks.undelivered(["evt_1"]) == {"evt_1": 1}

    def test_attempts_are_read_newest_first_by_target_and_by_event(
        self, hooks: WebhookStore
    ) -> None:
        hooks.add_endpoint(endpoint(1), 16)
        hooks.fan_out([("we_0001", 0, 2, news("we_0001", 1, 2))], NOW)
        for claimed in hooks.claim("we_0001", NOW, 10, NOW + 30, "w"):
            hooks.record([Result(claimed, attempt("we_0001", claimed.delivery.event_id, 1))])
        assert [a.event_id for a in hooks.attempts("we_0001")] == ["evt_2", "evt_1"]
        assert [a.event_id for a in hooks.attempts(event_id="evt_1")] == ["evt_1"]
        assert [a.event_id for a in hooks.attempts(limit=1)] == ["evt_2"]
        assert hooks.attempts("we_other") == []

    def test_undelivered_counts_each_events_unacknowledged_deliveries(
        self, hooks: WebhookStore
    ) -> None:
        for number in (1, 2):
            hooks.add_endpoint(endpoint(number), 16)
            hooks.fan_out([(f"we_000{number}", 0, 1, news(f"we_000{number}", 1))], NOW)
        assert hooks.undelivered(["evt_1", "evt_9"]) == {"evt_1": 2}
        (claimed,) = hooks.claim("we_0001", NOW, 10, NOW + 30, "w")
        hooks.record([Result(claimed, attempt("we_0001", "evt_1", 1))])
        assert hooks.undelivered(["evt_1"]) == {"evt_1": 1}
        assert hooks.undelivered([]) == {}

    # -- retention -------------------------------------------------------------------------------

    def test_finished_deliveries_and_attempts_are_forgotten_after_thirty_days_pending_ones_never(
        self, hooks: WebhookStore
    ) -> None:
        hooks.add_endpoint(endpoint(1), 16)
        hooks.add_endpoint(endpoint(2, cursor=3), 16)
        hooks.fan_out([("we_0001", 0, 3, news("we_0001", 1, 2, 3))], NOW)
        outcomes = {"evt_1": "succeeded", "evt_2": "failed", "evt_3": "retrying"}
        hooks.record(
            [
                Result(c, attempt("we_0001", c.delivery.event_id, 1, outcomes[c.delivery.event_id]))
                for c in hooks.claim("we_0001", NOW, 10, NOW + 30, "w")
            ]
        )
        # Later deliveries, to a second endpoint (the first one's retry is due all along).
        later = NOW + 2 * DAY  # still within thirty days at the end
        end = NOW + 30 * DAY + 1  # the first write past thirty days forgets the first ones
        for sequence, at in ((4, later), (5, end)):
            hooks.fan_out([("we_0002", sequence - 1, sequence, news("we_0002", sequence))], at)
            (claimed,) = hooks.claim("we_0002", at, 10, at + 30, "w")
            hooks.record([Result(claimed, attempt("we_0002", f"evt_{sequence}", 1, at=at))])

        assert [d.event_id for d in hooks.deliveries()] == ["evt_3", "evt_4", "evt_5"]
        assert [a.event_id for a in hooks.attempts()] == ["evt_5", "evt_4"]
        assert hooks.undelivered(["evt_2", "evt_3"]) == {"evt_3": 1}  # the failed one is gone

    def test_a_relays_attempts_are_forgotten_after_thirty_days_and_its_cursor_kept(
        self, hooks: WebhookStore
    ) -> None:
        for number, at in enumerate((NOW, NOW + 30 * DAY + 1), start=1):
            hooks.relay_lease("orders", 0, at, at + 30, "a")
            done = attempt("relay:orders", f"evt_{number}", 1, at=at)
            hooks.relay_record("orders", "a", done, number, 0, None)
        assert [a.event_id for a in hooks.attempts("relay:orders")] == ["evt_2"]
        state = hooks.relay_state("orders")
        assert state is not None
        assert state.cursor == 2

    # -- relays ----------------------------------------------------------------------------------

    def test_a_relay_is_leased_to_one_holder_and_moves_with_the_attempt_it_records(
        self, hooks: WebhookStore
    ) -> None:
        leased = hooks.relay_lease("orders", 5, NOW, NOW + 30, "a")
        assert leased is not None
        assert (leased.cursor, leased.attempts) == (5, 0)
        assert hooks.relay_lease("orders", 0, NOW, NOW + 30, "b") is None
        assert not hooks.relay_record(
            "orders", "b", attempt("relay:orders", "evt_6", 1), 6, 0, None
        )
        assert hooks.relay_record("orders", "a", attempt("relay:orders", "evt_6", 1), 6, 0, None)
        state = hooks.relay_state("orders")
        assert state is not None
        assert (state.cursor, state.attempts) == (6, 0)
        assert [a.event_id for a in hooks.attempts("relay:orders")] == ["evt_6"]
        assert hooks.relay_lease("orders", 0, NOW, NOW + 30, "b") is not None

    def test_a_relay_waits_for_its_next_attempt_and_a_lapsed_lease_frees_it(
        self, hooks: WebhookStore
    ) -> None:
        hooks.relay_lease("orders", 0, NOW, NOW + 30, "a")
        retry = attempt("relay:orders", "evt_1", 1, "retrying")
        hooks.relay_record("orders", "a", retry, 0, 1, NOW + 60)
        assert hooks.relay_lease("orders", 0, NOW + 59, NOW + 90, "b") is None
        leased = hooks.relay_lease("orders", 0, NOW + 60, NOW + 90, "b")
        assert leased is not None
        assert leased.attempts == 1
        assert hooks.relay_lease("orders", 0, NOW + 61, NOW + 90, "c") is None
        assert hooks.relay_lease("orders", 0, NOW + 90, NOW + 120, "c") is not None
        assert hooks.relay_state("missing") is None

    def test_clear_forgets_endpoints_deliveries_attempts_and_relays(
        self, hooks: WebhookStore
    ) -> None:
        hooks.add_endpoint(endpoint(1), 16)
        hooks.fan_out([("we_0001", 0, 1, news("we_0001", 1))], NOW)
        hooks.relay_lease("orders", 0, NOW, NOW + 30, "a")
        hooks.relay_record("orders", "a", attempt("relay:orders", "evt_1", 1), 1, 0, None)
        hooks.clear()
        assert hooks.endpoints() == []
        assert hooks.deliveries() == []
        assert hooks.attempts() == []
        assert hooks.relay_state("orders") is None
        assert hooks.add_endpoint(endpoint(1), 1)
