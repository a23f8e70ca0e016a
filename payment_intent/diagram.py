"""The lifecycle as a picture, drawn from the live transition table.

:func:`lifecycle_svg` draws :data:`payment_intent.domain.lifecycle.TRANSITIONS` as an SVG with a
layout placed by hand for reading: the statuses from which an attempt can start sit in one shaded
box at the top, where the outcomes sit below it, and an arrow that starts on the box's edge stands
for one arrow from each status inside it. The statuses and the routes of the arrows are placed
here; which arrows there are, and what they are labelled, comes from the table. A row whose route
nobody has placed is an error, not a guess, so a changed table fails the docs' tests until its
picture is redrawn. ``docs/lifecycle.svg`` is this function's output; regenerate it with
``python -m payment_intent.diagram docs/lifecycle.svg``.

:func:`lifecycle_mermaid` gives the same table as mermaid source (``payment-intent diagram``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from transitions.extensions.diagrams import GraphMachine

from payment_intent.domain.lifecycle import TRANSITIONS
from payment_intent.domain.status import TERMINAL, Status

TITLE = "PaymentIntent lifecycle"

# -- the layout, placed by hand ----------------------------------------------------------------

FONT = 12  # px; status names and triggers are code, so a monospace font gives their widths
CHAR = 7.3  # px per character, a little over DejaVu Sans Mono's 0.6em, the widest usual one
NODE_HEIGHT = 32
#: How far below its status a move that keeps the status (a self-loop) reaches.
LOOP_DEPTH = 26
WIDTH, HEIGHT = 680, 352 + LOOP_DEPTH

#: The statuses an attempt can start from, drawn in one shaded box; this name stands for the box.
BOX = "box"
BOXED = (Status.REQUIRES_PAYMENT_METHOD, Status.REQUIRES_CONFIRMATION, Status.REQUIRES_ACTION)
BOX_LEFT, BOX_TOP, BOX_RIGHT, BOX_BOTTOM = 10, 50, 670, 180

#: The centre of each status: the boxed ones in reading order, the outcomes in a row below.
CENTRES: dict[Status, tuple[int, int]] = {
    Status.REQUIRES_PAYMENT_METHOD: (110, 110),
    Status.REQUIRES_CONFIRMATION: (340, 110),
    Status.REQUIRES_ACTION: (565, 110),
    Status.PROCESSING: (70, 276),
    Status.SUCCEEDED: (290, 276),
    Status.REQUIRES_CAPTURE: (470, 276),
    Status.CANCELED: (633, 276),
}


@dataclass(frozen=True)
class Node:
    status: Status

    @property
    def width(self) -> int:
        return round(len(self.status.value) * CHAR) + 18

    @property
    def x(self) -> int:
        return CENTRES[self.status][0]

    @property
    def y(self) -> int:
        return CENTRES[self.status][1]

    @property
    def left(self) -> int:
        return self.x - self.width // 2

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def top(self) -> int:
        return self.y - NODE_HEIGHT // 2

    @property
    def bottom(self) -> int:
        return self.top + NODE_HEIGHT


def _n(status: Status) -> Node:
    return Node(status)


@dataclass(frozen=True)
class Route:
    """The line of one arrow (its last point is the head) and where its label goes."""

    points: tuple[tuple[int, int], ...]
    label_at: tuple[int, int]
    anchor: str = "start"  # the SVG text-anchor of the label: start, middle or end


RPM, RC, RA = BOXED
PROCESSING, SUCCEEDED, RCAP, CANCELED = (
    Status.PROCESSING,
    Status.SUCCEEDED,
    Status.REQUIRES_CAPTURE,
    Status.CANCELED,
)


def _down_from_box(x: int, to: Status, *, label: str = "right") -> Route:
    """From the box's bottom edge straight down into a status below it."""
    end = (x, _n(to).top)
    middle = (BOX_BOTTOM + _n(to).top) // 2 + 4
    if label == "right":
        return Route(((x, BOX_BOTTOM), end), (x + 6, middle))
    return Route(((x, BOX_BOTTOM), end), (x - 6, middle), "end")


def _into_box_member(x: int, to: Status) -> Route:
    """From the box's top edge down into one of the statuses in it."""
    return Route(((x, BOX_TOP), (x, _n(to).top)), (x + 6, (BOX_TOP + _n(to).top) // 2 + 4))


def _loop_below(status: Status) -> Route:
    """A move that keeps the status: out of the bottom edge and back in, labels to the right."""
    node = _n(status)
    left, right, low = node.x - 18, node.x + 18, node.bottom + LOOP_DEPTH - 8
    return Route(
        ((left, node.bottom), (left, low), (right, low), (right, node.bottom)),
        (right + 12, low + 4),
    )


def _sideways(source: Status, to: Status) -> Route:
    """Along the row of outcomes, label above the arrow."""
    a, b = _n(source), _n(to)
    rightwards = a.x < b.x
    start = (a.right, a.y) if rightwards else (a.left, a.y)
    end = (b.left, b.y) if rightwards else (b.right, b.y)
    return Route((start, end), ((start[0] + end[0]) // 2, a.y - 7), "middle")


#: Every arrow's route, by (where it starts, where it ends): a status, or the box for "each
#: status in the box". Only the table decides which of these are drawn.
ROUTES: dict[tuple[Status | str, Status], Route] = {
    (BOX, RPM): _into_box_member(150, RPM),
    (BOX, RC): _into_box_member(300, RC),
    (BOX, RA): _into_box_member(530, RA),
    (RA, RC): Route(
        ((_n(RA).x, _n(RA).bottom), (_n(RA).x, 150), (380, 150), (380, _n(RC).bottom)),
        (472, 166),
        "middle",
    ),
    (BOX, PROCESSING): _down_from_box(95, PROCESSING),
    (BOX, SUCCEEDED): _down_from_box(_n(SUCCEEDED).x, SUCCEEDED),
    (BOX, RCAP): _down_from_box(_n(RCAP).x, RCAP),
    (BOX, CANCELED): _down_from_box(640, CANCELED, label="left"),
    (PROCESSING, RPM): Route(((50, _n(PROCESSING).top), (50, _n(RPM).bottom)), (56, 155)),
    (PROCESSING, SUCCEEDED): _sideways(PROCESSING, SUCCEEDED),
    (RCAP, SUCCEEDED): _sideways(RCAP, SUCCEEDED),
    (RCAP, CANCELED): _sideways(RCAP, CANCELED),
    (RCAP, RCAP): _loop_below(RCAP),
}

#: Where an intent starts: a dot above the box, and its arrow into requires_payment_method.
START = (45, 16)

# -- the edges the table asks for ---------------------------------------------------------------


@dataclass(frozen=True)
class Edge:
    """One drawn arrow: the statuses it leaves (all of the box's, or one), its end, its triggers."""

    start: Status | str
    dest: Status
    triggers: tuple[str, ...]

    @property
    def sources(self) -> tuple[Status, ...]:
        return BOXED if self.start == BOX else (Status(self.start),)


def lifecycle_moves() -> dict[tuple[str, Status], list[Status]]:
    """Every move of the table as (trigger, dest) with the statuses it leaves, in table order.
    A row that keeps the status (an edit) moves nothing; two rows with the same trigger and
    destination (confirm and complete_action both ``succeed``, say) are one move."""
    moves: dict[tuple[str, Status], list[Status]] = {}
    for row in TRANSITIONS:
        if row.dest is None:
            continue
        sources = moves.setdefault((row.trigger, row.dest), [])
        sources.extend(s for s in row.sources if s not in sources)
    return moves


def lifecycle_edges() -> list[Edge]:
    """The moves as arrows: a move that leaves every boxed status is one arrow from the box, plus
    one arrow for each of its other sources; arrows with the same ends share one line."""
    triggers: dict[tuple[Status | str, Status], list[str]] = {}
    for (trigger, dest), sources in lifecycle_moves().items():
        starts: list[Status | str] = []
        rest: Iterable[Status] = sources
        if set(BOXED) <= set(sources):
            starts.append(BOX)
            rest = [s for s in sources if s not in BOXED]
        starts.extend(rest)
        for start in starts:
            triggers.setdefault((start, dest), []).append(trigger)
    return [Edge(start, dest, tuple(names)) for (start, dest), names in triggers.items()]


# -- drawing -------------------------------------------------------------------------------------

_STYLE = f"""
text {{ font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: {FONT}px;
       fill: #1a1a1a; }}
.node rect {{ fill: #ffffff; stroke: #3f51b5; stroke-width: 1.5; }}
.node.final rect.outer {{ stroke-width: 1.2; }}
.box {{ fill: #eef0fa; stroke: #9fa8da; stroke-width: 1.2; stroke-dasharray: 6 4; }}
.edge path {{ fill: none; stroke: #37474f; stroke-width: 1.4; }}
.edge.failure path {{ stroke: #b71c1c; }}
.edge.failure text {{ fill: #b71c1c; }}
.edge.ending path {{ stroke: #757575; }}
.edge.ending text {{ fill: #616161; }}
.legend {{ font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; font-size: 12px;
          fill: #424242; }}
"""


def _path(points: Iterable[tuple[int, int]]) -> str:
    return "M " + " L ".join(f"{x} {y}" for x, y in points)


def _kind(edge: Edge) -> str:
    if edge.dest is Status.CANCELED:
        return "ending"
    if edge.dest is Status.REQUIRES_PAYMENT_METHOD:
        return "failure"
    return "forward"


def _draw_edge(edge: Edge) -> str:
    route = ROUTES.get((edge.start, edge.dest))
    if route is None:
        start = edge.start if edge.start == BOX else Status(edge.start).value
        raise LookupError(
            f"The table has a move from {start} to {edge.dest.value} ({', '.join(edge.triggers)}) "
            "that the lifecycle picture has no route for: add one to ROUTES in "
            "payment_intent/diagram.py and regenerate docs/lifecycle.svg."
        )
    x, y = route.label_at
    # Stacked labels grow upwards from the label point, so they stay clear of the arrow below.
    lines = "".join(
        f'<tspan x="{x}" y="{y - (len(edge.triggers) - 1 - i) * (FONT + 2)}">{escape(t)}</tspan>'
        for i, t in enumerate(edge.triggers)
    )
    sources = " ".join(s.value for s in edge.sources)
    return (
        f'<g class="edge {_kind(edge)}" data-sources="{sources}" data-dest="{edge.dest.value}" '
        f'data-triggers="{" ".join(edge.triggers)}">'
        f'<path d="{_path(route.points)}" marker-end="url(#arrow-{_kind(edge)})"/>'
        f'<text text-anchor="{route.anchor}">{lines}</text></g>'
    )


def _draw_node(status: Status) -> str:
    if status not in CENTRES:
        raise LookupError(
            f"The status {status.value} has no place in the lifecycle picture: add it to CENTRES "
            "in payment_intent/diagram.py and regenerate docs/lifecycle.svg."
        )
    node = _n(status)
    final = status in TERMINAL
    inner = (
        f'<rect x="{node.left + 3}" y="{node.top + 3}" width="{node.width - 6}" '
        f'height="{NODE_HEIGHT - 6}" rx="3"/>'
        if final
        else ""
    )
    return (
        f'<g class="node{" final" if final else ""}" data-status="{status.value}">'
        f'<rect class="outer" x="{node.left}" y="{node.top}" width="{node.width}" '
        f'height="{NODE_HEIGHT}" rx="5"/>{inner}'
        f'<text x="{node.x}" y="{node.y + 4}" text-anchor="middle">{status.value}</text></g>'
    )


def _markers() -> str:
    colours = {"forward": "#37474f", "failure": "#b71c1c", "ending": "#757575"}
    return "".join(
        f'<marker id="arrow-{kind}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        f'markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        f'fill="{colour}"/></marker>'
        for kind, colour in colours.items()
    )


def lifecycle_svg() -> str:
    """The lifecycle picture as an SVG document: every status and every row of the table."""
    rpm = _n(Status.REQUIRES_PAYMENT_METHOD)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="title description">',
        f'<title id="title">{TITLE}</title>',
        '<desc id="description">Every status of a PaymentIntent and every move between them, '
        "labelled with the trigger of the transition table that makes it.</desc>",
        f"<defs>{_markers()}</defs><style>{_STYLE}</style>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<rect class="box" x="{BOX_LEFT}" y="{BOX_TOP}" width="{BOX_RIGHT - BOX_LEFT}" '
        f'height="{BOX_BOTTOM - BOX_TOP}" rx="8"/>',
        f'<g class="start"><circle cx="{START[0]}" cy="{START[1]}" r="5" fill="#37474f"/>'
        f'<path d="{_path([(START[0], START[1] + 5), (START[0], rpm.top)])}" '
        'stroke="#37474f" stroke-width="1.4" marker-end="url(#arrow-forward)"/>'
        f'<text x="{START[0] + 8}" y="{START[1] + 20}">create</text></g>',
    ]
    parts.extend(_draw_edge(edge) for edge in lifecycle_edges())
    parts.extend(_draw_node(status) for status in Status)
    legend_y = max(node.bottom for node in map(_n, Status)) + 28 + LOOP_DEPTH
    parts.append(
        f'<text class="legend" x="{BOX_LEFT}" y="{legend_y}">An arrow that starts on the edge of '
        "the shaded box leaves each of the three statuses in it.</text>"
        f'<text class="legend" x="{BOX_LEFT}" y="{legend_y + 18}">A double border marks a final '
        "status: nothing leaves it.</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


# -- mermaid, for the command line -------------------------------------------------------------


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


def main(argv: list[str] | None = None) -> int:
    """``python -m payment_intent.diagram [FILE]``: write the SVG to FILE, or to stdout."""
    args = sys.argv[1:] if argv is None else argv
    if args:
        Path(args[0]).write_text(lifecycle_svg(), encoding="utf-8")
    else:
        sys.stdout.write(lifecycle_svg())
    return 0


if __name__ == "__main__":
    sys.exit(main())
