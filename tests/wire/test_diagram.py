"""The lifecycle diagram is generated from the live transition table, and the docs embed it."""

from __future__ import annotations

import re
from pathlib import Path

from payment_intent.diagram import lifecycle_mermaid
from payment_intent.domain.lifecycle import MACHINE, TRANSITIONS
from payment_intent.domain.status import Status

DOC = Path(__file__).resolve().parents[2] / "docs" / "lifecycle.md"


def _edges(source: str) -> set[tuple[str, str, str]]:
    edges = set()
    for src, dst, labels in re.findall(r"^\s*(\w+) --> (\w+): (.+)$", source, re.M):
        edges.update((src, dst, label.strip()) for label in labels.split("|"))
    return edges


def test_docs_lifecycle_embeds_the_diagram_of_the_live_table() -> None:
    blocks = re.findall(r"```mermaid\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert blocks == [lifecycle_mermaid()]


def test_the_diagram_has_every_row_of_the_table_and_nothing_else() -> None:
    expected = {
        (source.value, row.dest.value, row.trigger)
        for row in TRANSITIONS
        if row.dest is not None  # an edit keeps the status: no edge
        for source in row.sources
    }
    drawn = {edge for edge in _edges(lifecycle_mermaid()) if edge[0] in set(Status)}
    assert drawn == expected


def test_the_table_is_what_the_shared_machine_runs() -> None:
    for row in TRANSITIONS:
        event = MACHINE.events[row.trigger]
        for source in row.sources:
            dest = row.dest.value if row.dest is not None else None
            assert [t.dest for t in event.transitions[source.value]] == [dest]
