"""``DELETE /_config/data`` (localstripe's reset): forget a test mode's intents (with their
refunds), events, idempotency records and webhook endpoints, so each test of a suite can start
from nothing.

A store that offers ``clear()`` clears itself. Until the stores do, the SQL ones are cleared here
through the webhook store's own connection to the same database (their table names are the one
thing this module knows of them), and an in-memory store is replaced by a new, empty one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from payment_intent.adapters.memory import InMemoryStore
from payment_intent.domain.errors import InvalidRequestError
from payment_intent.service import PaymentIntents
from payment_intent.webhooks.resources import use_webhook_store, webhook_store_for

if TYPE_CHECKING:
    from payment_intent.dialects.api import Api

#: The intents' tables, cleared in this order (a claim, an event or a refund names its intent).
PAYMENT_TABLES = (
    "payment_intent_refunds",
    "payment_intent_claims",
    "payment_intent_events",
    "payment_intent_idempotency",
    "payment_intents",
)


def reset(api: Api, livemode: bool) -> None:
    """Clear the test mode of ``api``; live data is never reachable from here."""
    if livemode:
        raise InvalidRequestError(
            "Test data can only be reset with a test-mode key.",
            code="resource_missing",
            http_status=404,
        )
    service = api.services[livemode]
    hooks = webhook_store_for(service.store)
    hooks.clear()
    own_clear = getattr(service.store, "clear", None)
    if callable(own_clear):
        own_clear()
        return
    clear_payment_tables = getattr(hooks, "clear_payment_tables", None)
    if callable(clear_payment_tables):
        clear_payment_tables(PAYMENT_TABLES)
        return
    if isinstance(service.store, InMemoryStore):
        fresh = InMemoryStore()
        use_webhook_store(fresh, hooks)
        loop = service.loop
        api.services[livemode] = PaymentIntents(
            fresh,
            service.clock,
            service.processor,
            service.profile,
            livemode=livemode,
            max_retries=loop.max_retries,
            claim_lease=loop.timing.claim_lease,
            claim_wait=loop.timing.claim_wait,
        )
        return
    raise InvalidRequestError(
        f"A {type(service.store).__name__} cannot be reset: it has no clear() method.",
        code="reset_unsupported",
    )
