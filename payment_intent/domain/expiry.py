"""A hold lapses at ``capture_before_at``: no read or command ever shows it as capturable after.

:func:`as_of` is the intent as it stands at a moment, which every read and command of the service
asks for; the expiry sweep writes lapsed holds out with :func:`expire`. Both describe the lapse as
of ``capture_before_at`` itself, not as of whenever it is noticed, so the intent a read shows before
the sweep is the very intent the sweep stores.
"""

from __future__ import annotations

from payment_intent.domain import holds, refunds
from payment_intent.domain.events import Change, changed
from payment_intent.domain.lifecycle import EXPIRE, require
from payment_intent.domain.model import PaymentIntent
from payment_intent.domain.status import CancellationReason, EventType, Status


def is_due(intent: PaymentIntent, now: int) -> bool:
    """Whether the intent is a hold whose ``capture_before_at`` has passed by ``now``."""
    return (
        intent.status is Status.REQUIRES_CAPTURE
        and intent.capture_before_at is not None
        and now >= intent.capture_before_at
    )


def as_of(intent: PaymentIntent, now: int) -> PaymentIntent:
    """The intent at ``now``: a lapsed hold shows canceled, exactly as its expiry will store it."""
    return expire(intent).intent if is_due(intent, now) else intent


def expire(intent: PaymentIntent) -> Change:
    """The authorization window closed: the hold's uncaptured rest is released, recorded as a
    refund with reason ``expired_uncaptured_charge``. Nothing captured: the intent is canceled
    with reason ``automatic``; part captured (multicapture): it has succeeded for that part."""
    require(EXPIRE, intent.status)
    lapsed_at = intent.capture_before_at
    assert lapsed_at is not None  # every hold has one (invariant 3)
    released = refunds.expired_uncaptured(intent, intent.amount_capturable, lapsed_at)
    after = intent.evolve(
        version=intent.version + 1,
        updated_at=max(lapsed_at, intent.updated_at),
        refunds=(*intent.refunds, released),
        **holds.release(intent, EXPIRE.name, CancellationReason.AUTOMATIC, at=lapsed_at),
    )
    event = EventType.SUCCEEDED if after.status is Status.SUCCEEDED else EventType.CANCELED
    return Change(after, ((event, changed(intent, after)),))
