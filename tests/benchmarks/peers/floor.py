"""The floor for Python: a hand-written dataclass and a dict transition table, nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

from peers.transitions_peers import TRANSITIONS

#: (status, trigger) -> next status: the library's whole lifecycle, flattened into a dict.
TABLE: dict[tuple[str, str], str] = {
    (source, row["trigger"]): row["dest"]  # type: ignore[misc]
    for row in TRANSITIONS
    for source in row["source"]
}


@dataclass(slots=True)
class Intent:
    """The fields the checkout reads and writes."""

    id: str
    amount: int
    currency: str
    capture_method: str
    status: str = "requires_payment_method"
    payment_method: str | None = None
    amount_capturable: int = 0
    amount_received: int = 0


_ids = count()


def fire(intent: Intent, trigger: str) -> None:
    """Move ``intent`` by the table, refusing a move it does not list."""
    try:
        intent.status = TABLE[intent.status, trigger]
    except KeyError:
        raise ValueError(f"cannot {trigger} from {intent.status}") from None


def checkout(manual: bool) -> Intent:
    """Create, confirm with a card, and (manual) capture a part."""
    intent = Intent(f"pi_{next(_ids)}", 120_000, "eur", "manual" if manual else "automatic")
    intent.payment_method = "pm_card_visa"
    fire(intent, "attach_payment_method")
    if manual:
        fire(intent, "authorize")
        intent.amount_capturable = intent.amount
        fire(intent, "capture")
        intent.amount_received, intent.amount_capturable = 100_000, 0
    else:
        fire(intent, "succeed")
        intent.amount_received = intent.amount
    return intent
