"""What ``payment-intent serve`` and the WSGI application add to the API: the webhook store beside
each store, the delivery worker over every mode (for ``serve``, in a process of its own where the
stores allow), and ``--forward-to``'s endpoint."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from payment_intent.domain.errors import PaymentIntentError
from payment_intent.ports import Store
from payment_intent.webhooks.delivery import DeliveryWorker, Source
from payment_intent.webhooks.model import EVENT_TYPES, Endpoint, RetrySchedule
from payment_intent.webhooks.process import DeliveryProcess, can_share
from payment_intent.webhooks.resources import use_webhook_store, webhook_store_for
from payment_intent.webhooks.storage import WebhookStore

if TYPE_CHECKING:
    from payment_intent.dialects.api import Api

#: The key ``serve`` accepts when none is configured: the test key of the providers' docs, so
#: their copied snippets work as they are.
DEFAULT_TEST_KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
#: The description that marks the endpoint ``--forward-to`` registers, so a restart reuses it
#: (and its signing secret) instead of adding another.
FORWARD_DESCRIPTION = "payment-intent serve --forward-to"


def hooks_beside(store: Store, url: str) -> WebhookStore:
    """The webhook store for ``store``, opened from the store ``url``: PostgreSQL's needs the
    URL; the in-memory and SQLite ones are found from the store itself."""
    if url.split("://", 1)[0].lower() in ("postgresql", "postgres"):
        from payment_intent.webhooks.postgres import PostgresWebhookStore

        return use_webhook_store(store, PostgresWebhookStore(url))
    return webhook_store_for(store)


def sources_of(
    api: Api, test: RetrySchedule | None = None, live: RetrySchedule | None = None
) -> Callable[[], list[Source]]:
    """The delivery worker's sources: every mode ``api`` serves, read afresh each round (the
    test-data reset may replace an in-memory store)."""
    schedules = {
        False: test or RetrySchedule.for_test_mode(),
        True: live or RetrySchedule.for_live_mode(),
    }

    def sources() -> list[Source]:
        return [
            Source(service.store, webhook_store_for(service.store), schedules[livemode])
            for livemode, service in sorted(api.services.items())
        ]

    return sources


def start_delivery(
    api: Api, test: RetrySchedule | None = None, live: RetrySchedule | None = None
) -> DeliveryWorker:
    """A running delivery worker for every mode of ``api``, in this process."""
    return DeliveryWorker(sources_of(api, test, live)).start()


def start_serve_delivery(
    api: Api,
    test_url: str,
    live_url: str | None,
    test: RetrySchedule | None = None,
    live: RetrySchedule | None = None,
) -> DeliveryWorker | DeliveryProcess:
    """What delivers for ``serve``: a process of its own when every store of ``api`` (opened
    from ``test_url`` and ``live_url``) can be shared, so that delivery never takes the API's
    interpreter lock; otherwise (an in-memory store) a worker in this process."""
    modes = [(test_url, test or RetrySchedule.for_test_mode())]
    if live_url is not None:
        modes.append((live_url, live or RetrySchedule.for_live_mode()))
    if all(can_share(url) for url, _ in modes):
        return DeliveryProcess(modes)
    return start_delivery(api, test, live)


def forward_to(api: Api, url: str) -> Endpoint:
    """The test-mode endpoint for every event at ``url``: the one a previous run registered, or a
    new one. Raises the API's typed error for a URL it refuses."""
    service = api.services[False]
    hooks = webhook_store_for(service.store)
    for endpoint in hooks.endpoints():
        if endpoint.url == url and endpoint.description == FORWARD_DESCRIPTION:
            if endpoint.status != "enabled" or not endpoint.wants(EVENT_TYPES[0]):
                continue
            return endpoint
    if api.dialect.name == "payrex":
        from payment_intent.webhooks.params import payrex_event_types

        operation = "webhook_create"
        params = {
            "url": url,
            "events": list(payrex_event_types()),
            "description": FORWARD_DESCRIPTION,
        }
    else:
        operation = "webhook_endpoint_create"
        params = {"url": url, "enabled_events": ["*"], "description": FORWARD_DESCRIPTION}
    answer = api.call(operation, params=params, form=False)
    if answer.status != 200:
        raise PaymentIntentError(_message(answer.body), code="parameter_invalid", param="url")
    made = hooks.endpoint(str(answer.body["id"]))
    assert made is not None  # just stored by the call above
    return made


def _message(body: dict[str, object]) -> str:
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("message"))
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("detail"))
    return str(body)
