"""What a merchant may change on a charge once it exists: its metadata, and nothing about money.

A charge (PayRex's Payment) lives in its intent's aggregate, so an edit is a command on that
intent, under its version. Editing notes is allowed in every status, as on the intent itself;
it emits no event, as an intent's metadata update emits none.
"""

from __future__ import annotations

from payment_intent.domain.decisions import merge_metadata, next_version
from payment_intent.domain.errors import resource_missing
from payment_intent.domain.events import Change
from payment_intent.domain.model import Charge, PaymentIntent
from payment_intent.domain.params import ChargeEdit


def find(intent: PaymentIntent, charge_id: str, param: str = "charge") -> Charge:
    """The intent's charge ``charge_id``, or ``resource_missing`` naming ``param``."""
    for candidate in intent.charges:
        if candidate.id == charge_id:
            return candidate
    raise resource_missing(param, "charge", charge_id)


def annotate(intent: PaymentIntent, edit: ChargeEdit, now: int) -> Change:
    """Merge ``edit``'s metadata into the charge's (an empty value removes a key)."""
    current = find(intent, edit.charge)
    given = edit.changes.metadata
    if given is None:
        return Change(next_version(intent, now))
    edited = current.model_copy(update={"metadata": merge_metadata(current.metadata, given)})
    charges = tuple(edited if c.id == edited.id else c for c in intent.charges)
    return Change(next_version(intent, now, charges=charges))
