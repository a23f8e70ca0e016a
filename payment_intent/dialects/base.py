"""What a wire dialect is: its routes, its parameter names, and how it renders intents and errors.

A dialect is pure translation. It never loads or stores anything: :mod:`payment_intent.dialects.api`
authenticates, routes and calls the service, and asks the dialect how to read the request and how
to write the answer. A backend that has its own web framework can use a dialect's ``render_*``
methods directly on what the service returns.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from payment_intent.dialects.forms import Spec, coerce, form_spec
from payment_intent.domain.errors import PaymentIntentError, parameter_unknown
from payment_intent.domain.model import ClientPaymentIntent, Event, PaymentIntent
from payment_intent.domain.outcomes import PaymentMethod
from payment_intent.domain.profiles import Profile
from payment_intent.operations import OPERATIONS, parameter_names
from payment_intent.service import Page

if TYPE_CHECKING:
    from payment_intent.service import PaymentIntents

#: An intent id in a path: what ids look like, and nothing that could be a path of its own.
ID = r"(?P<id>[A-Za-z0-9_\-]{1,255})"


@dataclass(frozen=True, slots=True)
class Route:
    """``method`` + ``path`` (a regular expression after the dialect's prefix) → ``operation``."""

    method: str
    path: str
    operation: str
    test_helper: bool = False
    # Compiled once: every request tries several routes.
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", re.compile(self.path))

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        found = self.pattern.fullmatch(path)
        return found.groupdict() if found else None


def routes_for(dialect: str) -> tuple[Route, ...]:
    """A dialect's routes, from the registry of operations."""
    return tuple(
        Route(endpoint.method, endpoint.path.replace("{id}", ID), spec.name, spec.test_helper)
        for spec in OPERATIONS.values()
        for endpoint in spec.endpoints.get(dialect, ())
    )


#: How form strings are read as each operation's parameter types (from the parameter models).
_FORM_SPECS: dict[str, dict[str, Spec]] = {
    name: form_spec(spec.params) for name, spec in OPERATIONS.items()
}


class Dialect(ABC):
    """One provider's wire language. Subclasses: :class:`CasaPay` and :class:`PayRex`."""

    name: ClassVar[str]
    #: Path prefix of every route (``/v1`` for CasaPay, empty for PayRex).
    prefix: ClassVar[str]
    profile: ClassVar[Profile]
    routes: ClassVar[tuple[Route, ...]]
    #: Wire name → canonical name, for every operation (``"*"``) or one of them.
    renames: ClassVar[Mapping[str, Mapping[str, str]]]
    #: Canonical parameters this provider's API does not have, for every operation (``"*"``) or
    #: one of them: refused as unknown, as the provider would.
    unspoken: ClassVar[Mapping[str, frozenset[str]]] = {}

    # -- requests --------------------------------------------------------------------------------

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route a request is for, and the values it takes from the path."""
        if not path.startswith(self.prefix):
            return None
        rest = path[len(self.prefix) :]
        for route in self.routes:
            found = route.match(method, rest)
            if found is not None:
                return route, found
        return None

    @abstractmethod
    def credentials(self, headers: Mapping[str, str]) -> str | None:
        """The API key a request presents, in this provider's way, or ``None``."""

    def to_canonical(self, operation: str, params: dict[str, Any], *, form: bool) -> dict[str, Any]:
        """Rename wire parameters to the service's names and, for forms, read their types.

        A canonical name that is not also a wire name of this dialect is unknown here: PayRex
        callers say ``payment_methods``, and ``payment_method_types`` is not theirs to send.
        Errors raised here name parameters as the caller sent them.
        """
        if not params:
            return {}
        renames, hidden = self._renames_and_hidden(operation)
        allowed = self.accepted(operation) - self.unspoken.get("*", frozenset())
        allowed -= self.unspoken.get(operation, frozenset())
        canonical: dict[str, Any] = {}
        for key, value in params.items():
            name = renames.get(key, key)
            if key in hidden or name not in allowed:
                raise parameter_unknown(key)
            canonical[name] = self.nested_to_canonical(name, value)
        if form:
            types = self.form_types(operation)
            canonical = {k: coerce(v, types[k]) if k in types else v for k, v in canonical.items()}
        return canonical

    def accepted(self, operation: str) -> frozenset[str]:
        """The canonical parameters ``operation`` takes on this wire: the registry's, unless the
        provider's request has a shape of its own (PayRex's ``POST /refunds``)."""
        return parameter_names(operation)

    def form_types(self, operation: str) -> dict[str, Spec]:
        """How form strings are read for ``operation``'s parameters on this wire."""
        return _FORM_SPECS[operation]

    def nested_to_canonical(self, name: str, value: Any) -> Any:
        """Rename inside a hash parameter; the default dialect keeps nested names."""
        return value

    def wire_param(self, param: str, operation: str) -> str:
        """A canonical parameter name (``metadata[k]`` too) as this dialect's callers spell it."""
        reverse = {canonical: wire for wire, canonical in self._renames(operation).items()}
        head, bracket, rest = param.partition("[")
        return reverse.get(head, head) + bracket + rest

    def wire_error(self, error: PaymentIntentError, operation: str) -> PaymentIntentError:
        """An error from the service, its parameter (and the message naming it) in wire terms."""
        if error.param is None:
            return error
        wire = self.wire_param(error.param, operation)
        if wire != error.param:
            canonical_head, wire_head = error.param.partition("[")[0], wire.partition("[")[0]
            error.message = re.sub(rf"\b{re.escape(canonical_head)}\b", wire_head, error.message)
            error.param = wire
        return error

    def _renames(self, operation: str) -> dict[str, str]:
        return dict(self._renames_and_hidden(operation)[0])

    def _renames_and_hidden(self, operation: str) -> tuple[Mapping[str, str], frozenset[str]]:
        """The operation's renames, and the canonical names callers may not send; computed once
        per operation (``renames`` is a class constant)."""
        cache: dict[str, tuple[Mapping[str, str], frozenset[str]]]
        cache = self.__dict__.setdefault("_renames_cache", {})
        found = cache.get(operation)
        if found is None:
            renames = {**self.renames.get("*", {}), **self.renames.get(operation, {})}
            found = cache[operation] = (renames, frozenset(renames.values()) - set(renames))
        return found

    def read_request(
        self,
        operation: str,
        headers: Mapping[str, str],
        params: dict[str, Any],
        methods: Callable[[str], PaymentMethod | None],
        livemode: bool,
    ) -> dict[str, Any]:
        """Read what a request says about its own answer before it runs (CasaPay: the
        ``Stripe-Version`` header and ``expand[]``); returns the parameters the service takes.
        ``methods`` looks up the processor's payment methods. The default reads nothing."""
        return params

    def answer(
        self,
        operation: str,
        service: PaymentIntents,
        object_id: str,
        params: dict[str, Any],
        idempotency_key: str | None = None,
    ) -> dict[str, Any] | None:
        """Answer an operation only this dialect routes (CasaPay: Stripe's search, events list,
        payment methods and refunds; PayRex: refunds and payments), or ``None`` for the operations
        every dialect shares. ``idempotency_key`` is the request's, for the commands among them."""
        return None

    def finish_response(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        """The answer's body once rendered (CasaPay expands ids here); the default keeps it."""
        return body

    def error_headers(self, error: PaymentIntentError) -> tuple[int, tuple[tuple[str, str], ...]]:
        """The HTTP status of an error and the headers the provider adds to it."""
        return error.http_status, ()

    def status_filter(self, value: Any) -> Any:
        """A ``status`` list filter in wire terms, as the service's canonical status."""
        return value

    # -- responses -------------------------------------------------------------------------------

    @abstractmethod
    def render_intent(self, intent: PaymentIntent) -> dict[str, Any]:
        """The full object, as a secret-key caller sees it."""

    @abstractmethod
    def render_client_intent(self, intent: ClientPaymentIntent) -> dict[str, Any]:
        """Only the fields a browser holding the client secret may see."""

    @abstractmethod
    def render_list(self, page: Page[PaymentIntent], url: str) -> dict[str, Any]: ...

    @abstractmethod
    def render_event(self, event: Event) -> dict[str, Any]: ...

    @abstractmethod
    def render_events(self, page: Page[Event], url: str) -> dict[str, Any]: ...

    @abstractmethod
    def render_clock(self, now: int) -> dict[str, Any]: ...

    @abstractmethod
    def render_error(self, error: PaymentIntentError) -> dict[str, Any]:
        """The error body; the HTTP status is ``error.http_status``."""

    def previous_attributes(self, event: Event) -> dict[str, Any]:
        """An event's ``previous_attributes`` in wire terms: the wire fields whose value changed.

        The domain records what changed in canonical fields; rendering the intent before and after
        and comparing keeps the names, casing and shapes of this dialect (a PayRex status that
        did not change on the wire, such as requires_payment_method → requires_confirmation, is
        not reported).
        """
        if not event.previous_attributes:
            return {}
        before = PaymentIntent.model_validate(
            {**event.data.model_dump(mode="json"), **event.previous_attributes}
        )
        old, new = self.render_intent(before), self.render_intent(event.data)
        return {key: value for key, value in old.items() if new.get(key) != value}
