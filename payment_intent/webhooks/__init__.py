"""Signed webhooks from the committed event feed, as both providers send them.

- Signing: :func:`sign`, :func:`verify` and :func:`generate_test_header` for CasaPay's
  ``Stripe-Signature`` and PayRex's ``Payrex-Signature``.
- Endpoints: the providers' own API (``/v1/webhook_endpoints``, ``/webhooks``), answered by
  :class:`~payment_intent.webhooks.resources.WebhookEndpoints` inside
  :class:`~payment_intent.dialects.api.Api`.
- Delivery: :class:`DeliveryWorker` posts each committed event to every endpoint that wants it,
  off the request path, at least once, retried on a :class:`RetrySchedule`, with every attempt
  recorded in a :class:`WebhookStore` kept beside the intents.
- Embedding: :class:`WebhookRelay` hands each committed event to a callable or a URL from a
  backend's own worker, keeping its cursor in the store.

The signing helpers import nothing else; the rest is imported on first use (the registry of
operations imports this package's parameter models, and the dialects import the registry).
"""

from typing import TYPE_CHECKING, Any

from payment_intent.webhooks.signing import (
    CASAPAY_HEADER,
    DEFAULT_TOLERANCE,
    PAYREX_HEADER,
    SignatureVerificationError,
    generate_test_header,
    sign,
    verify,
)

if TYPE_CHECKING:
    from payment_intent.webhooks.delivery import DeliveryWorker, Source
    from payment_intent.webhooks.model import Attempt, Delivery, Endpoint, RetrySchedule
    from payment_intent.webhooks.relay import WebhookRelay
    from payment_intent.webhooks.resources import (
        WebhookEndpoints,
        use_webhook_store,
        webhook_store_for,
    )
    from payment_intent.webhooks.storage import InMemoryWebhookStore, WebhookStore

_LAZY = {
    "DeliveryWorker": "payment_intent.webhooks.delivery",
    "Source": "payment_intent.webhooks.delivery",
    "Attempt": "payment_intent.webhooks.model",
    "Delivery": "payment_intent.webhooks.model",
    "Endpoint": "payment_intent.webhooks.model",
    "RetrySchedule": "payment_intent.webhooks.model",
    "WebhookRelay": "payment_intent.webhooks.relay",
    "WebhookEndpoints": "payment_intent.webhooks.resources",
    "use_webhook_store": "payment_intent.webhooks.resources",
    "webhook_store_for": "payment_intent.webhooks.resources",
    "InMemoryWebhookStore": "payment_intent.webhooks.storage",
    "WebhookStore": "payment_intent.webhooks.storage",
    "SQLiteWebhookStore": "payment_intent.webhooks.sqlite",
    "PostgresWebhookStore": "payment_intent.webhooks.postgres",
}

__all__ = [
    "CASAPAY_HEADER",
    "DEFAULT_TOLERANCE",
    "PAYREX_HEADER",
    "Attempt",
    "Delivery",
    "DeliveryWorker",
    "Endpoint",
    "InMemoryWebhookStore",
    "RetrySchedule",
    "SignatureVerificationError",
    "Source",
    "WebhookEndpoints",
    "WebhookRelay",
    "WebhookStore",
    "generate_test_header",
    "sign",
    "use_webhook_store",
    "verify",
    "webhook_store_for",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
