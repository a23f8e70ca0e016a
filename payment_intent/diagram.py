"""The lifecycle as a mermaid state diagram, drawn by transitions from the live transition table.

``docs/lifecycle.md`` embeds the output of :func:`lifecycle_mermaid`, and a test compares the two,
so the picture cannot drift from :data:`payment_intent.domain.lifecycle.TRANSITIONS`.
"""

from __future__ import annotations

from typing import Any

from transitions.extensions.diagrams import GraphMachine

from payment_intent.domain.lifecycle import TRANSITIONS
from payment_intent.domain.status import TERMINAL, Status

TITLE = "PaymentIntent lifecycle"


class _Drawing:
    """The model the diagram machine needs; it only ever sits in the initial status."""


def lifecycle_mermaid() -> str:
    """The mermaid source: every status, every row of the table, and where an intent starts."""
    drawing = _Drawing()
    machine = GraphMachine(
        model=drawing,
        states=[s.value for s in Status],
        transitions=[
            {
                "trigger": row.trigger,
                "source": [s.value for s in row.sources],
                "dest": row.dest.value,
            }
            for row in TRANSITIONS
            if row.dest is not None  # an edit keeps the status: no edge to draw
        ],
        initial=Status.REQUIRES_PAYMENT_METHOD.value,
        auto_transitions=False,
        graph_engine="mermaid",
        title=TITLE,
        show_conditions=False,
        show_state_attributes=False,
    )
    graph: Any = machine.model_graphs.get(id(drawing))
    if graph is None:
        machine.get_combined_graph()
        graph = machine.model_graphs[id(drawing)]
    # No status is "current" in a picture of the whole lifecycle.
    graph.reset_styling()
    source: str = graph.get_graph(title=TITLE).source
    lines = source.splitlines()
    # Creating with a payment method starts in requires_confirmation; terminal statuses end it.
    lines.append(f"  [*] --> {Status.REQUIRES_CONFIRMATION.value}: create with a payment method")
    lines.extend(f"  {status.value} --> [*]" for status in Status if status in TERMINAL)
    return "\n".join(line.rstrip() for line in lines) + "\n"
