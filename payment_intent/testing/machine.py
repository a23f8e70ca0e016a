"""``PaymentIntentMachine``: a Hypothesis state machine driving the service with every operation.

Run it as is (``TestCheckout = PaymentIntentMachine.TestCase``), point it at your own store,
processor or profile by overriding :meth:`make_service` or :attr:`profile`, or subclass it to add
the rules of your own checkout (and keep only the kit rules it meets, with :attr:`kit_rules`).
After every step it checks the lifecycle's invariants on every intent.
"""

from __future__ import annotations

from collections.abc import Callable, Set
from dataclasses import dataclass
from typing import Any, TypeVar

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from payment_intent.adapters.clocks import ManualClock
from payment_intent.adapters.memory import InMemoryStore
from payment_intent.adapters.simulated import SimulatedProcessor
from payment_intent.domain.errors import (
    CardError,
    IdempotencyError,
    InvalidRequestError,
    PaymentIntentError,
)
from payment_intent.domain.expiry import as_of
from payment_intent.domain.model import Event, PaymentIntent, Refund
from payment_intent.domain.profiles import get_profile
from payment_intent.domain.status import Status
from payment_intent.service import PaymentIntents
from payment_intent.testing.invariants import History, InvariantViolation, assert_invariants
from payment_intent.testing.strategies import (
    FLEXIBLE_ACQUIRING,
    amounts,
    create_params,
    flexible_acquiring_options,
    metadata,
    payment_method_ids,
    refund_reasons,
)

Result = PaymentIntent | PaymentIntentError

#: Clock steps that cross the interesting lines: none, a minute, an hour, a day, the 24-hour
#: idempotency window, the 7-day authorization window and the 30-day extended one.
CLOCK_STEPS = st.one_of(
    st.sampled_from(
        [0, 60, 3600, 86_400, 86_401, 6 * 86_400, 7 * 86_400, 8 * 86_400, 30 * 86_400, 31 * 86_400]
    ),
    st.integers(0, 8 * 86_400),
)
REASONS = st.sampled_from([None, "duplicate", "fraudulent", "requested_by_customer", "abandoned"])

Rule = TypeVar("Rule", bound=Callable[..., Any])
_kit_rule_names: list[str] = []


def _kit_rule(function: Rule) -> Rule:
    """One of the kit's rules: it runs only while the machine's ``kit_rules`` names it."""
    name = function.__name__
    _kit_rule_names.append(name)
    return precondition(lambda self: name in self.kit_rules)(function)


@dataclass(frozen=True)
class Call:
    """One operation the machine ran, with what came back (an intent or a typed error)."""

    operation: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    result: Any
    at: int


class PaymentIntentMachine(RuleBasedStateMachine):
    """Every operation, random payment methods, clock jumps and repeated idempotency keys."""

    #: The profile the service runs under (``"casapay"`` or ``"payrex"``).
    profile: str = "casapay"
    #: Where the manual clock starts.
    start_time: int = 1_706_140_800

    intents = Bundle("intents")

    #: The kit's rules this machine runs: every one of them unless a subclass keeps fewer.
    #: Hypothesis draws each step's rule among those that can run, so a subclass whose own rules
    #: matter more gives them more of the steps by keeping only the kit rules its checkout meets:
    #: ``kit_rules = {"confirm", "complete_action", "cancel"}``. (Set after the rules, below.)
    kit_rules: Set[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kept: Set[str] | str = cls.kit_rules
        if isinstance(kept, str):
            raise TypeError(f"{cls.__name__}.kit_rules is a set of rule names, not {kept!r}")
        unknown = set(kept) - set(_kit_rule_names)
        if unknown:
            raise TypeError(
                f"{cls.__name__}.kit_rules names no rule of the kit: {sorted(unknown)}; "
                f"the kit's rules are {sorted(_kit_rule_names)}"
            )
        cls.kit_rules = frozenset(kept)

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(self.start_time)
        self.service = self.make_service(self.clock)
        self.history = History()
        self.known: list[str] = []
        self.keyed: dict[str, Call] = {}
        self.events_by_intent: dict[str, list[Event]] = {}
        #: Every event read so far, in feed order.
        self.event_log: list[Event] = []
        #: Every version of every intent this machine has seen, to check events' ``data`` against.
        self.versions: dict[tuple[str, int], PaymentIntent] = {}
        self._event_cursor: str | None = None
        self._key_counter = 0
        #: Every refund made so far, for the rules that settle, cancel or edit one.
        self.refunds: list[str] = []
        #: As of the last step: intents holding funds, and intents with money left to refund.
        #: The rules after the hold aim at these half of the time; the bundle's intents, in
        #: every status, give them their refusals.
        self.holds: list[str] = []
        self.collected: list[str] = []

    def make_service(self, clock: ManualClock) -> PaymentIntents:
        """The service under test; override to run the machine over your own adapters."""
        return PaymentIntents(
            store=InMemoryStore(), clock=clock, processor=SimulatedProcessor(), profile=self.profile
        )

    # -- running operations --------------------------------------------------------------------

    def call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        """Run ``service.<operation>``; typed errors are returned, not raised, then checked."""
        at = self.clock.now()
        shown = self._as_shown()
        try:
            result: Any = getattr(self.service, operation)(*args, **kwargs)
        except PaymentIntentError as error:
            result = error
        call = Call(operation, args, kwargs, result, at)
        if isinstance(result, InvalidRequestError):
            assert self._as_shown() == shown, f"a refused {operation} changed what is stored"
        self.check_call(call)
        key = kwargs.get("idempotency_key")
        if key is not None and key not in self.keyed:
            self.keyed[key] = call
        return result

    def _as_shown(self) -> dict[str, PaymentIntent | None]:
        """Every known intent as a read shows it now (a lapsed hold as its expiry will store it):
        a refusal may store an expiry it met, but never anything a read did not already show."""
        now = self.clock.now()
        return {
            intent_id: None
            if (found := self.service.store.load(intent_id)) is None
            else as_of(found, now)
            for intent_id in self.known
        }

    def check_call(self, call: Call) -> None:
        """Checks every call must pass; extend to compare with a model of your own."""
        result = call.result
        if isinstance(result, Refund):
            assert result.amount > 0, result
            if result.id not in self.refunds:
                self.refunds.append(result.id)
        if isinstance(result, PaymentIntent):
            assert_invariants(result)
            assert not (
                result.status is Status.REQUIRES_CAPTURE
                and result.capture_before_at is not None
                and result.capture_before_at <= self.clock.now()
            ), "a read returned a hold that has already lapsed"
        elif isinstance(result, CardError):
            declined = result.payment_intent
            assert declined is not None, "a decline carries the intent"
            if call.operation == "increment_authorization":
                # A declined increment leaves the hold capturable for its old amount.
                assert declined.status is Status.REQUIRES_CAPTURE, declined.status
            else:
                assert declined.status is Status.REQUIRES_PAYMENT_METHOD
                assert declined.last_payment_error is not None
        elif isinstance(result, PaymentIntentError) and call.args:
            assert result.param is not None or result.code == "payment_intent_unexpected_state", (
                f"an error about a request names its parameter: {result!r}"
            )

    def any_payment_method(self) -> st.SearchStrategy[str]:
        """Every test method of the profile, those the intent refuses included: refusals are
        behaviour to check too."""
        types = get_profile(self.profile).payment_method_types
        return payment_method_ids(self.profile, types=types)

    def _aim(self, intent: str, among: list[str], data: st.DataObject) -> str:
        """``intent`` (any status), or half of the time one of ``among`` if there are any.

        The coin is tossed even when ``among`` is empty, so that a step draws the same choices
        whatever came before it: Hypothesis can then delete earlier steps while shrinking."""
        aimed = data.draw(st.booleans(), label="aimed")
        if aimed and among:
            return data.draw(st.sampled_from(among), label="intent")
        return intent

    def _key(self, data: st.DataObject) -> str | None:
        if not data.draw(st.booleans(), label="with idempotency key"):
            return None
        self._key_counter += 1
        return f"key-{self._key_counter}"

    # -- rules ---------------------------------------------------------------------------------

    @initialize(target=intents)
    def first_intent(self) -> str:
        intent = self.call("create", amount=get_min_amount(self.profile), currency=self.currency)
        assert isinstance(intent, PaymentIntent), intent
        self.known.append(intent.id)
        return intent.id

    @property
    def currency(self) -> str:
        return "php" if self.profile == "payrex" else "eur"

    @_kit_rule
    @rule(target=intents, data=st.data())
    def create(self, data: st.DataObject) -> Any:
        params = data.draw(create_params(self.profile), label="params")
        if data.draw(st.booleans(), label="with payment method"):
            params["payment_method"] = data.draw(self.any_payment_method(), label="pm")
            params["confirm"] = data.draw(st.booleans(), label="confirm")
            if params["confirm"] and data.draw(st.booleans(), label="return_url"):
                params["return_url"] = "https://shop.example/return"
        if data.draw(st.booleans(), label="manual confirmation"):
            params["confirmation_method"] = "manual"
        return self._created(self.call("create", idempotency_key=self._key(data), **params))

    @_kit_rule
    @rule(target=intents, data=st.data())
    def authorize_hold(self, data: st.DataObject) -> Any:
        """A manual-capture card checkout, confirmed at once: the road to capture and expiry."""
        manual: dict[str, Any] = (
            {"payment_method_options": {"card": {"capture_type": "manual"}}}
            if self.profile == "payrex"
            else {"capture_method": "manual"}
        )
        if get_profile(self.profile).flexible_acquiring and data.draw(
            st.booleans(), label="flexible acquiring"
        ):
            # Every feature at once half of the time: the rules after the hold need them together.
            everything = {f"request_{feature}": "if_available" for feature in FLEXIBLE_ACQUIRING}
            manual["payment_method_options"] = data.draw(
                st.one_of(st.just({"card": everything}), flexible_acquiring_options(self.profile)),
                label="payment_method_options",
            )
        method = data.draw(payment_method_ids(self.profile, "approved"), label="pm")
        amount = get_min_amount(self.profile) + data.draw(st.integers(0, 100_000), label="extra")
        return self._created(
            self.call(
                "create",
                amount=amount,
                currency=self.currency,
                payment_method=method,
                confirm=True,
                idempotency_key=self._key(data),
                **manual,
            )
        )

    @_kit_rule
    @precondition(lambda self: self.profile == "casapay")
    @rule(target=intents, data=st.data())
    def start_bank_payment(self, data: st.DataObject) -> Any:
        """An asynchronous method, confirmed at once: the road to processing and settlement."""
        types = ["open_banking", "direct_debit", "card"]
        bank = payment_method_ids(self.profile, "asynchronous", types=types)
        method = data.draw(bank, label="pm")
        return self._created(
            self.call(
                "create",
                amount=get_min_amount(self.profile),
                currency=self.currency,
                payment_method_types=types,
                payment_method=method,
                confirm=True,
                idempotency_key=self._key(data),
            )
        )

    def _created(self, result: Any) -> Any:
        created = result if isinstance(result, PaymentIntent) else None
        if isinstance(result, CardError) and result.payment_intent is not None:
            created = result.payment_intent
        if created is None:
            return multiple()
        self.known.append(created.id)
        return created.id

    @_kit_rule
    @rule(intent=intents, data=st.data())
    def confirm(self, intent: str, data: st.DataObject) -> None:
        method = data.draw(
            st.one_of(st.none(), self.any_payment_method(), st.just("pm_unknown")),
            label="payment_method",
        )
        self.call(
            "confirm",
            intent,
            payment_method=method,
            return_url=data.draw(st.sampled_from([None, "https://shop.example/done"])),
            idempotency_key=self._key(data),
        )

    @_kit_rule
    @rule(intent=intents, succeed=st.booleans())
    def complete_action(self, intent: str, succeed: bool) -> None:
        self.call("complete_action", intent, succeed=succeed)

    @_kit_rule
    @rule(intent=intents, succeed=st.booleans())
    def settle(self, intent: str, succeed: bool) -> None:
        self.call("settle", intent, succeed=succeed)

    @_kit_rule
    @rule(intent=intents, data=st.data())
    def capture(self, intent: str, data: st.DataObject) -> None:
        """Whole, in part (``final_capture=False`` keeps the rest of a multicapture hold), or
        above the amount (an overcapture), and amounts no hold takes."""
        intent = self._aim(intent, self.holds, data)
        stored = self.service.store.load(intent)
        assert stored is not None
        hold = stored.latest_charge
        most = max(stored.amount, (hold and hold.maximum_amount_capturable) or 0)
        amount = data.draw(
            st.one_of(
                st.none(),
                st.integers(0, most + 10),
                st.just(stored.amount_capturable),
                st.just(most),
                st.integers(1, max(stored.amount_capturable // 2, 1)),  # part of what is held
            ),
            label="amount_to_capture",
        )
        final = data.draw(st.sampled_from([None, True, False]), label="final_capture")
        extra = {} if final is None else {"final_capture": final}
        self.call(
            "capture", intent, amount_to_capture=amount, idempotency_key=self._key(data), **extra
        )

    @_kit_rule
    @rule(intent=intents, data=st.data())
    def increment_authorization(self, intent: str, data: st.DataObject) -> None:
        """A new total above the hold's, at it, or below; granted or not, declined or not."""
        intent = self._aim(intent, self.holds, data)
        stored = self.service.store.load(intent)
        assert stored is not None
        amount = data.draw(
            st.one_of(
                st.integers(stored.amount + 1, stored.amount + 50_000),
                st.sampled_from([stored.amount, stored.amount - 1, 0]),
            ),
            label="amount",
        )
        self.call("increment_authorization", intent, amount=amount, idempotency_key=self._key(data))

    @_kit_rule
    @rule(intent=intents, data=st.data())
    def refund(self, intent: str, data: st.DataObject) -> None:
        """All that is left, part of it, more than is left, or amounts no refund takes."""
        intent = self._aim(intent, self.collected, data)
        stored = self.service.store.load(intent)
        assert stored is not None
        amount = data.draw(
            st.one_of(
                st.none(),
                st.integers(1, max(stored.amount_received, 1)),
                st.none(),
                st.just(stored.amount_received + 1),
                st.sampled_from([0, -1]),
            ),
            label="amount",
        )
        # Mostly no reason or a valid one; sometimes the library's own, which callers may not give.
        reason = data.draw(
            st.one_of(
                st.none(), refund_reasons(self.profile), st.none(), st.just(EXPIRED_UNCAPTURED)
            ),
            label="reason",
        )
        self.call("refund", intent, amount=amount, reason=reason, idempotency_key=self._key(data))

    @_kit_rule
    @precondition(lambda self: bool(self.refunds))
    @rule(data=st.data(), succeed=st.booleans())
    def settle_refund(self, data: st.DataObject, succeed: bool) -> None:
        refund = data.draw(st.sampled_from(self.refunds), label="refund")
        self.call("settle_refund", refund, succeed=succeed)

    @_kit_rule
    @precondition(lambda self: bool(self.refunds))
    @rule(data=st.data())
    def cancel_refund(self, data: st.DataObject) -> None:
        refund = data.draw(st.sampled_from(self.refunds), label="refund")
        self.call("cancel_refund", refund)

    @_kit_rule
    @precondition(lambda self: bool(self.refunds))
    @rule(data=st.data())
    def update_refund(self, data: st.DataObject) -> None:
        refund = data.draw(st.sampled_from([*self.refunds, "re_missing"]), label="refund")
        self.call("update_refund", refund, metadata=data.draw(metadata(max_keys=2), label="md"))

    @_kit_rule
    @rule(intent=intents, reason=REASONS, data=st.data())
    def cancel(self, intent: str, reason: str | None, data: st.DataObject) -> None:
        self.call("cancel", intent, cancellation_reason=reason, idempotency_key=self._key(data))

    @_kit_rule
    @rule(intent=intents, data=st.data())
    def update(self, intent: str, data: st.DataObject) -> None:
        change = data.draw(
            st.sampled_from(["metadata", "description", "payment_method", "amount"]), label="field"
        )
        kwargs: dict[str, Any] = {}
        if change == "metadata":
            kwargs["metadata"] = data.draw(
                st.dictionaries(
                    st.sampled_from(["order", "cart", "note"]), st.sampled_from(["", "1", "x"])
                )
            )
        elif change == "description":
            kwargs["description"] = data.draw(st.sampled_from(["", "Rent", "Rent + parking"]))
        elif change == "payment_method":
            kwargs["payment_method"] = data.draw(self.any_payment_method())
        else:
            stored = self.service.store.load(intent)
            assert stored is not None
            kwargs["amount"] = data.draw(amounts(self.profile, stored.currency), label="amount")
        self.call("update", intent, idempotency_key=self._key(data), **kwargs)

    @_kit_rule
    @rule(seconds=CLOCK_STEPS)
    def advance_clock(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @_kit_rule
    @rule()
    def expire_authorizations(self) -> None:
        for intent in self.service.expire_authorizations():
            # A hold with nothing captured is canceled; one partly captured has succeeded.
            if intent.status is Status.CANCELED:
                assert intent.cancellation_reason == "automatic"
            else:
                assert intent.status is Status.SUCCEEDED, intent.status
                assert intent.amount_received > 0

    @_kit_rule
    @rule(intent=intents)
    def retrieve(self, intent: str) -> None:
        self.call("retrieve", intent)

    @_kit_rule
    @rule(data=st.data())
    def list_page(self, data: st.DataObject) -> None:
        status = data.draw(st.sampled_from([None, *Status]), label="status")
        limit = data.draw(st.integers(1, 5), label="limit")
        page = self.service.list(status=status, limit=limit)
        assert len(page.data) <= limit
        keys = [(i.created, i.id) for i in page.data]
        assert keys == sorted(keys, reverse=True), "list pages are newest first"
        for intent in page.data:
            self.check_call(Call("list", (), {}, intent, self.clock.now()))
            if status is not None:
                assert intent.status is status

    @_kit_rule
    @precondition(lambda self: bool(self.replayable()))
    @rule(data=st.data())
    def replay_idempotent(self, data: st.DataObject) -> None:
        """A retry with the same key and parameters returns the first result, without acting."""
        key = data.draw(st.sampled_from(self.replayable()), label="key")
        first = self.keyed[key]
        before = self._stored_versions()
        try:
            again: Any = getattr(self.service, first.operation)(*first.args, **first.kwargs)
        except PaymentIntentError as error:
            again = error
        if isinstance(first.result, PaymentIntent | Refund):
            assert again == first.result, "an idempotent retry returns the first result"
        else:
            assert type(again) is type(first.result)
            assert again.code == first.result.code
        assert self._stored_versions() == before, "an idempotent retry acted again"

    @_kit_rule
    @precondition(lambda self: bool(self.replayable()))
    @rule(data=st.data())
    def reuse_key_with_other_params(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(self.replayable()), label="key")
        first = self.keyed[key]
        kwargs = dict(first.kwargs, metadata={"reused": "yes"})
        before = self._stored_versions()
        try:
            getattr(self.service, first.operation)(*first.args, **kwargs)
        except IdempotencyError as error:
            assert error.code == "idempotency_key_reused"
        except InvalidRequestError as error:
            # Operations without metadata refuse the parameter before looking at the key.
            assert error.code == "parameter_unknown"
            assert error.param == "metadata"
        else:
            raise AssertionError("a reused key with other parameters was accepted")
        assert self._stored_versions() == before

    def replayable(self) -> list[str]:
        """Keys whose first result was recorded (a success or a decline) and is still live."""
        now = self.clock.now()
        return sorted(
            key
            for key, call in self.keyed.items()
            if isinstance(call.result, PaymentIntent | Refund | CardError)
            and now < call.at + 24 * 3600
        )

    def _stored_versions(self) -> dict[str, int]:
        versions = {}
        for intent_id in self.known:
            stored = self.service.store.load(intent_id)
            if stored is not None:
                versions[intent_id] = stored.version
        return versions

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def spec_invariants_hold(self) -> None:
        now = self.clock.now()
        stored: dict[str, PaymentIntent] = {}
        for intent_id in self.known:
            found = self.service.store.load(intent_id)
            if found is None:
                raise InvariantViolation(f"{intent_id} was returned but is not stored")
            # As every read shows it: a lapsed hold is canceled before the sweep writes it out.
            intent = as_of(found, now)
            assert_invariants(intent, now)
            self.history.observe(intent)
            self.versions[intent.id, intent.version] = intent
            stored[intent_id] = intent
        self.holds = [i for i, pi in stored.items() if pi.status is Status.REQUIRES_CAPTURE]
        self.collected = [
            i for i, pi in stored.items() if pi.amount_received > 0 and not _all_refunded(pi)
        ]
        self._read_new_events(stored)
        self.check_state(stored)

    def _read_new_events(self, stored: dict[str, PaymentIntent]) -> None:
        self._reread_events()
        while True:
            page = self.service.events(starting_after=self._event_cursor, limit=100)
            for event in page.data:
                assert event.data.version == event.intent_version
                seen = self.versions.get((event.intent_id, event.intent_version))
                assert seen is None or event.data == seen, "an event's data is not its version"
                assert event.intent_version <= stored[event.intent_id].version
                assert_invariants(event.data)
                self.events_by_intent.setdefault(event.intent_id, []).append(event)
                self.event_log.append(event)
                self._event_cursor = event.id
            if not page.has_more:
                return

    def _reread_events(self) -> None:
        """The whole feed again from the start: events never change once committed, even after
        later versions of their intent (a store may rebuild their ``data``)."""
        again: list[Event] = []
        cursor: str | None = None
        while len(again) < len(self.event_log):
            page = self.service.events(starting_after=cursor, limit=100)
            again.extend(page.data)
            if not page.data:
                break
            cursor = page.data[-1].id
        assert again[: len(self.event_log)] == self.event_log, "a committed event changed"

    def check_state(self, stored: dict[str, PaymentIntent]) -> None:
        """Called after every step with every stored intent; extend with your own checks."""


PaymentIntentMachine.kit_rules = frozenset(_kit_rule_names)

EXPIRED_UNCAPTURED = "expired_uncaptured_charge"


def _all_refunded(intent: PaymentIntent) -> bool:
    hold = intent.latest_charge
    return hold is not None and hold.refunded


def get_min_amount(profile: str) -> int:
    """A comfortable valid amount for the machine's fixed currency under ``profile``."""
    return 2_000 if profile == "payrex" else 1_000
