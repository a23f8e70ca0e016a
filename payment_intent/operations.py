"""Every operation the library offers, declared once: its parameters, whether it changes anything
(and so takes an idempotency key), its HTTP route in each dialect, and its command-line name.

The wire API routes by this table, the command line builds its commands and their help from it, the
demo prints commands that exist in it, and the testing kit draws operations from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel

from payment_intent.domain.params import (
    AdvanceClockParams,
    CancelParams,
    CaptureParams,
    ChargeEdit,
    ConfirmParams,
    CreateParams,
    EventListParams,
    EventsParams,
    IncrementParams,
    ListParams,
    NoParams,
    OutcomeParams,
    RefundListParams,
    RefundParams,
    RefundUpdateParams,
    RetrieveParams,
    SearchParams,
    UpdateParams,
)
from payment_intent.webhooks.params import (
    AttemptsParams,
    EndpointCreateParams,
    EndpointListParams,
    EndpointUpdateParams,
    WebhookCreateParams,
    WebhookListParams,
    WebhookUpdateParams,
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """``method`` on ``path``, after the dialect's prefix; ``{id}`` stands for the intent's id."""

    method: str
    path: str


@dataclass(frozen=True, slots=True)
class OperationSpec:
    """One operation of the service, as every edge sees it.

    ``name`` is the service's method (``attach`` is the browser's confirm, ``advance_clock`` moves
    a server's manual clock). ``mutates``: it may change what is stored; ``keyed``: it takes an
    idempotency key (every command a caller makes about a payment). ``endpoints`` maps a
    dialect's name to its routes; ``command`` is the CLI's name for it (``None``: not on the CLI),
    with an ``example`` of its parameters in CasaPay's names.
    """

    name: str
    summary: str
    params: type[BaseModel]
    mutates: bool
    keyed: bool
    names_intent: bool
    endpoints: Mapping[str, tuple[Endpoint, ...]]
    command: str | None = None
    example: str = ""
    test_helper: bool = False
    dialects: frozenset[str] = field(default=frozenset({"casapay", "payrex"}))


def _both(method: str, path: str) -> dict[str, tuple[Endpoint, ...]]:
    return {"casapay": (Endpoint(method, path),), "payrex": (Endpoint(method, path),)}


_INTENT = "/payment_intents/{id}"
_HELPER = "/test_helpers/payment_intents/{id}"
_ENDPOINT = "/webhook_endpoints/{id}"
_WEBHOOK = "/webhooks/{id}"
_REFUND = "/refunds/{id}"


def _webhook_spec(
    name: str,
    summary: str,
    params: type[BaseModel],
    dialect: str,
    method: str,
    path: str,
    *,
    mutates: bool,
    test_helper: bool = False,
) -> OperationSpec:
    """A webhook endpoint operation: served by ``payment_intent.webhooks``, in one dialect."""
    return OperationSpec(
        name,
        summary,
        params,
        mutates=mutates,
        keyed=False,
        names_intent=False,
        endpoints={dialect: (Endpoint(method, path),)},
        test_helper=test_helper,
        dialects=frozenset({dialect}),
    )


#: The webhook endpoint resources (payment_intent.webhooks answers them): CasaPay's are Stripe's
#: WebhookEndpoint routes, PayRex's its webhook service's. Endpoint ids stand in ``{id}``.
WEBHOOK_SPECS: tuple[OperationSpec, ...] = (
    _webhook_spec("webhook_endpoint_create", "register a webhook endpoint",
                  EndpointCreateParams, "casapay", "POST", "/webhook_endpoints", mutates=True),
    _webhook_spec("webhook_endpoint_list", "list webhook endpoints, newest first",
                  EndpointListParams, "casapay", "GET", "/webhook_endpoints", mutates=False),
    _webhook_spec("webhook_endpoint_retrieve", "show a webhook endpoint",
                  NoParams, "casapay", "GET", _ENDPOINT, mutates=False),
    _webhook_spec("webhook_endpoint_update", "change a webhook endpoint",
                  EndpointUpdateParams, "casapay", "POST", _ENDPOINT, mutates=True),
    _webhook_spec("webhook_endpoint_delete", "delete a webhook endpoint",
                  NoParams, "casapay", "DELETE", _ENDPOINT, mutates=True),
    _webhook_spec("webhook_create", "register a webhook",
                  WebhookCreateParams, "payrex", "POST", "/webhooks", mutates=True),
    _webhook_spec("webhook_list", "list webhooks, newest first",
                  WebhookListParams, "payrex", "GET", "/webhooks", mutates=False),
    _webhook_spec("webhook_retrieve", "show a webhook",
                  NoParams, "payrex", "GET", _WEBHOOK, mutates=False),
    _webhook_spec("webhook_update", "change a webhook",
                  WebhookUpdateParams, "payrex", "PUT", _WEBHOOK, mutates=True),
    _webhook_spec("webhook_delete", "delete a webhook",
                  NoParams, "payrex", "DELETE", _WEBHOOK, mutates=True),
    _webhook_spec("webhook_enable", "send events to a webhook again",
                  NoParams, "payrex", "POST", f"{_WEBHOOK}/enable", mutates=True),
    _webhook_spec("webhook_disable", "stop sending events to a webhook",
                  NoParams, "payrex", "POST", f"{_WEBHOOK}/disable", mutates=True),
    OperationSpec(
        "webhook_attempts",
        "test mode: the delivery attempts to an endpoint, newest first",
        AttemptsParams,
        mutates=False,
        keyed=False,
        names_intent=False,
        endpoints={
            "casapay": (Endpoint("GET", f"/test_helpers{_ENDPOINT}/attempts"),),
            "payrex": (Endpoint("GET", f"/test_helpers{_WEBHOOK}/attempts"),),
        },
        test_helper=True,
    ),
    # localstripe's DELETE /_config/data, at the root in both dialects (payment_intent.webhooks
    # routes it): no route under a dialect's prefix.
    OperationSpec(
        "reset",
        "test mode: forget every intent, event, idempotency record and webhook endpoint",
        NoParams,
        mutates=True,
        keyed=False,
        names_intent=False,
        endpoints={},
        test_helper=True,
    ),
)  # fmt: skip

#: The refund edits each dialect routes: PayRex updates a refund with PUT, as its SDK does, and has
#: no route to cancel one.
_REFUND_EDITS: dict[str, dict[str, tuple[Endpoint, ...]]] = {
    "update_refund": {"payrex": (Endpoint("PUT", "/refunds/{id}"),)},
}

OPERATIONS: dict[str, OperationSpec] = {
    spec.name: spec
    for spec in (
        OperationSpec(
            "create",
            "create an intent",
            CreateParams,
            mutates=True,
            keyed=True,
            names_intent=False,
            endpoints=_both("POST", "/payment_intents"),
            command="create",
            example="amount=5000 currency=eur",
        ),
        # Before retrieve: /payment_intents/search would otherwise read as an intent's id.
        OperationSpec(
            "search",
            "search intents with Stripe's query language",
            SearchParams,
            mutates=False,
            keyed=False,
            names_intent=False,
            endpoints={"casapay": (Endpoint("GET", "/payment_intents/search"),)},
            dialects=frozenset({"casapay"}),
        ),
        OperationSpec(
            "retrieve",
            "show an intent (client_secret=... for the browser's view)",
            RetrieveParams,
            mutates=False,
            keyed=False,
            names_intent=True,
            endpoints=_both("GET", _INTENT),
            command="retrieve",
        ),
        OperationSpec(
            "update",
            "change an intent",
            UpdateParams,
            mutates=True,
            keyed=True,
            names_intent=True,
            endpoints={
                "casapay": (Endpoint("POST", _INTENT),),
                # The payrex-python SDK updates with PUT.
                "payrex": (Endpoint("PUT", _INTENT),),
            },
            command="update",
            example="metadata[order]=A-1001",
        ),
        OperationSpec(
            "list",
            "list intents, newest first",
            ListParams,
            mutates=False,
            keyed=False,
            names_intent=False,
            endpoints=_both("GET", "/payment_intents"),
            command="list",
            example="limit=3",
        ),
        OperationSpec(
            "confirm",
            "attempt the payment",
            ConfirmParams,
            mutates=True,
            keyed=True,
            names_intent=True,
            # PayRex confirms in the customer's browser only (the attach test helper).
            endpoints={"casapay": (Endpoint("POST", f"{_INTENT}/confirm"),)},
            command="confirm",
            example="payment_method=pm_card_visa",
            dialects=frozenset({"casapay"}),
        ),
        OperationSpec(
            "capture",
            "capture all or part of a hold",
            CaptureParams,
            mutates=True,
            keyed=True,
            names_intent=True,
            endpoints=_both("POST", f"{_INTENT}/capture"),
            command="capture",
            example="amount_to_capture=4000",
        ),
        OperationSpec(
            "cancel",
            "cancel an intent",
            CancelParams,
            mutates=True,
            keyed=True,
            names_intent=True,
            endpoints=_both("POST", f"{_INTENT}/cancel"),
            command="cancel",
            example="cancellation_reason=requested_by_customer",
        ),
        OperationSpec(
            "attach",
            "test mode: the customer's browser attaches a method and confirms",
            ConfirmParams,
            mutates=True,
            keyed=True,
            names_intent=True,
            endpoints=_both("POST", f"{_HELPER}/attach"),
            command="attach",
            example="payment_method=pm_card_visa",
            test_helper=True,
        ),
        OperationSpec(
            "complete_action",
            "test mode: the customer completes (succeed=false: fails) the redirect",
            OutcomeParams,
            mutates=True,
            keyed=True,
            names_intent=True,
            endpoints=_both("POST", f"{_HELPER}/complete_action"),
            command="complete-action",
            example="succeed=true",
            test_helper=True,
        ),
        OperationSpec(
            "settle",
            "test mode: the asynchronous method succeeds (succeed=false: fails)",
            OutcomeParams,
            mutates=True,
            keyed=True,
            names_intent=True,
            endpoints=_both("POST", f"{_HELPER}/settle"),
            command="settle",
            example="succeed=true",
            test_helper=True,
        ),
        OperationSpec(
            "events",
            "the event feed, oldest first",
            EventsParams,
            mutates=False,
            keyed=False,
            names_intent=False,
            # CasaPay's /events is Stripe's list (newest first); the commit-order feed that an
            # embedding backend reads has a route of its own there.
            endpoints={
                "casapay": (Endpoint("GET", "/events_feed"),),
                "payrex": (Endpoint("GET", "/events"),),
            },
            command="events",
            example="limit=5",
        ),
        OperationSpec(
            "list_events",
            "Stripe's events list: newest first, by type and creation time",
            EventListParams,
            mutates=False,
            keyed=False,
            names_intent=False,
            endpoints={"casapay": (Endpoint("GET", "/events"),)},
            dialects=frozenset({"casapay"}),
        ),
        OperationSpec(
            "retrieve_event",
            "one event by id",
            NoParams,
            mutates=False,
            keyed=False,
            names_intent=False,
            endpoints={"casapay": (Endpoint("GET", "/events/{id}"),)},
            dialects=frozenset({"casapay"}),
        ),
        OperationSpec(
            "retrieve_payment_method",
            "one of the processor's payment methods by id",
            NoParams,
            mutates=False,
            keyed=False,
            names_intent=False,
            endpoints={"casapay": (Endpoint("GET", "/payment_methods/{id}"),)},
            dialects=frozenset({"casapay"}),
        ),
        OperationSpec(
            "increment_authorization",
            "raise a hold granted incremental authorization to a new total",
            IncrementParams,
            mutates=True,
            keyed=True,
            names_intent=True,
            endpoints={"casapay": (Endpoint("POST", f"{_INTENT}/increment_authorization"),)},
        ),
        OperationSpec(
            "refund",
            "send back all or part of what an intent collected",
            RefundParams,
            mutates=True,
            keyed=True,
            names_intent=True,
            # CasaPay names the intent (or its charge) in the body, as Stripe does; PayRex names
            # the Payment to refund (payment_id).
            endpoints=_both("POST", "/refunds"),
        ),
        OperationSpec(
            "retrieve_refund",
            "one refund by id",
            NoParams,
            mutates=False,
            keyed=False,
            names_intent=False,
            endpoints={"casapay": (Endpoint("GET", _REFUND),)},
        ),
        OperationSpec(
            "list_refunds",
            "list refunds, newest first, of an intent, a charge or all",
            RefundListParams,
            mutates=False,
            keyed=False,
            names_intent=False,
            endpoints={"casapay": (Endpoint("GET", "/refunds"),)},
        ),
        # The parameters each takes on the wire; the service runs them as a RefundEdit.
        *(
            OperationSpec(
                name,
                summary,
                params,
                mutates=True,
                keyed=True,
                names_intent=False,
                endpoints={"casapay": (Endpoint("POST", path),), **_REFUND_EDITS.get(name, {})},
                test_helper=name == "settle_refund",
            )
            for name, summary, params, path in (
                ("update_refund", "change a refund's metadata", RefundUpdateParams, _REFUND),
                ("cancel_refund", "withdraw a pending refund", NoParams, f"{_REFUND}/cancel"),
                (
                    "settle_refund",
                    "test mode: a pending refund succeeds (succeed=false: fails)",
                    OutcomeParams,
                    f"/test_helpers{_REFUND}/settle",
                ),
            )
        ),
        # A charge is PayRex's Payment (pay_...), read and annotated by its own id.
        OperationSpec(
            "retrieve_charge",
            "one payment (charge) by id",
            NoParams,
            mutates=False,
            keyed=False,
            names_intent=False,
            endpoints={"payrex": (Endpoint("GET", "/payments/{id}"),)},
        ),
        OperationSpec(
            "update_charge",
            "change a payment's (charge's) metadata",
            ChargeEdit,
            mutates=True,
            keyed=True,
            names_intent=False,
            endpoints={"payrex": (Endpoint("PUT", "/payments/{id}"),)},
        ),
        OperationSpec(
            "expire",
            "cancel every hold past capture_before_at",
            NoParams,
            mutates=True,
            keyed=False,
            names_intent=False,
            endpoints={},
            command="expire",
        ),
        OperationSpec(
            "advance_clock",
            "test mode: move a server's manual clock forward",
            AdvanceClockParams,
            mutates=True,
            keyed=False,
            names_intent=False,
            endpoints=_both("POST", "/test_helpers/clock/advance"),
            test_helper=True,
        ),
        *WEBHOOK_SPECS,
    )
}

#: The operations that take an idempotency key.
KEYED: frozenset[str] = frozenset(name for name, spec in OPERATIONS.items() if spec.keyed)
#: The command line's names.
COMMANDS: dict[str, OperationSpec] = {
    spec.command: spec for spec in OPERATIONS.values() if spec.command is not None
}


def parameter_names(operation: str) -> frozenset[str]:
    """The canonical parameters ``operation`` accepts."""
    return frozenset(OPERATIONS[operation].params.model_fields)
