"""The lifecycle picture is drawn from the live transition table, and the docs show that picture."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest

from payment_intent import diagram
from payment_intent.diagram import lifecycle_mermaid, lifecycle_svg
from payment_intent.domain.lifecycle import MACHINE, TRANSITIONS
from payment_intent.domain.status import Status

DOCS = Path(__file__).resolve().parents[2] / "docs"
SVG = "{http://www.w3.org/2000/svg}"


def table_moves() -> set[tuple[str, str, str]]:
    """Every (source, dest, trigger) the table allows; an edit that keeps the status is none."""
    return {
        (source.value, row.dest.value, row.trigger)
        for row in TRANSITIONS
        if row.dest is not None
        for source in row.sources
    }


def drawn_moves(svg: str) -> set[tuple[str, str, str]]:
    """Every (source, dest, trigger) an arrow of the picture stands for."""
    moves = set()
    for edge in ET.fromstring(svg).iter(f"{SVG}g"):
        if "edge" in edge.get("class", "").split():
            for source in edge.attrib["data-sources"].split():
                for trigger in edge.attrib["data-triggers"].split():
                    moves.add((source, edge.attrib["data-dest"], trigger))
    return moves


def test_the_docs_show_the_picture_of_the_live_table() -> None:
    committed = (DOCS / "lifecycle.svg").read_text(encoding="utf-8")
    assert committed == lifecycle_svg(), (
        "docs/lifecycle.svg is not the picture of the current table: run "
        "python -m payment_intent.diagram docs/lifecycle.svg"
    )
    assert "](lifecycle.svg)" in (DOCS / "lifecycle.md").read_text(encoding="utf-8")


def test_the_picture_has_an_arrow_for_every_move_of_the_table_and_no_other() -> None:
    assert drawn_moves(lifecycle_svg()) == table_moves()


def test_every_arrow_label_names_the_triggers_it_stands_for() -> None:
    root = ET.fromstring(lifecycle_svg())
    for edge in root.iter(f"{SVG}g"):
        if "edge" in edge.get("class", "").split():
            shown = [span.text for span in edge.iter(f"{SVG}tspan")]
            assert shown == edge.attrib["data-triggers"].split()


def test_the_picture_shows_every_status_once_and_marks_the_final_ones() -> None:
    root = ET.fromstring(lifecycle_svg())
    nodes = {
        n.attrib["data-status"]: n.get("class", "").split()
        for n in root.iter(f"{SVG}g")
        if "node" in n.get("class", "").split()
    }
    assert sorted(nodes) == sorted(s.value for s in Status)
    assert {name for name, classes in nodes.items() if "final" in classes} == {
        "succeeded",
        "canceled",
    }


def test_a_move_the_picture_has_no_route_for_fails_loudly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A new row is never drawn by guesswork: the docs' tests fail until someone places it."""
    new_row = SimpleNamespace(trigger="reopen", sources=(Status.CANCELED,), dest=Status.PROCESSING)
    monkeypatch.setattr(diagram, "TRANSITIONS", (*TRANSITIONS, new_row))
    with pytest.raises(LookupError, match="from canceled to processing \\(reopen\\)"):
        lifecycle_svg()


def test_the_mermaid_source_has_every_move_of_the_table_and_no_other() -> None:
    edges = set()
    for src, dst, labels in re.findall(r"^\s*(\w+) --> (\w+): (.+)$", lifecycle_mermaid(), re.M):
        edges.update((src, dst, label.strip()) for label in labels.split("|"))
    assert {edge for edge in edges if edge[0] in set(Status)} == table_moves()


def test_the_table_is_what_the_shared_machine_runs() -> None:
    for row in TRANSITIONS:
        event = MACHINE.events[row.trigger]
        for source in row.sources:
            dest = row.dest.value if row.dest is not None else None
            assert [t.dest for t in event.transitions[source.value]] == [dest]
