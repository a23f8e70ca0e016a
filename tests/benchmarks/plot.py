"""Turn the harness's JSON into the pictures and tables of docs/benchmarks.md.

    python tests/benchmarks/run.py --json results.json \
        && python tests/benchmarks/plot.py results.json

writes, into ``docs/benchmarks/`` (or ``--out``):

- ``checkouts.svg``: checkouts per second of every contender on every store, a bar chart;
- ``pages.svg``: the time of a list page against the number of stored intents, per store;
- ``checkouts.md``, ``targets.md``, ``pages.md``: the tables the page includes;
- ``results.json``: the figures they were drawn from, as the harness wrote them.

The tables need nothing but the standard library; the charts need matplotlib (the ``bench``
extra). ``--tables-only`` skips the charts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "benchmarks"

WORKLOADS = ("in process", "SQLite", "PostgreSQL", "HTTP")
PROJECT_COLOURS = ("#3f51b5", "#9fa8da")  # manual capture, automatic capture
PEER_COLOURS = ("#616161", "#c4c4c4")

# The three targets that are not a ratio to a peer, as tests/benchmarks/run.py prints them.
CHECKOUTS_PER_SECOND = 20_000
BYTES_PER_INTENT = 2_048
PAGE_GROWTH = 1.5
TIMES = "\N{MULTIPLICATION SIGN}"

PAGE_NAMES = {
    "newest": "newest first",
    "customer": "by customer",
    "customer+status": "by customer and status",
    "status": "by status",
    "cursor (mid-list)": "from a cursor in the middle",
    "created < (mid-list)": "created before the middle",
}
STORES = (("memory", "In memory"), ("sqlite", "SQLite"), ("postgres", "PostgreSQL"))


# -- reading the harness's figures ---------------------------------------------------------------


def checkout_rows(report: dict[str, Any], variant: str, workload: str) -> list[dict[str, Any]]:
    """The rows of one checkout table (``variant`` is "manual" or "automatic"); each with the
    median seconds per checkout, or none when the contender was skipped."""
    rows: list[dict[str, Any]] = report.get(f"checkout, {variant} capture, {workload}", [])
    for row in rows:
        row["median"] = statistics.median(row["times"]) if row["times"] else None
    return rows


def project_of(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((row for row in rows if row["project"] and row["median"]), None)


def speed(peer: float, project: float) -> str:
    """The peer's time against the project's, in words: which is faster, and how many times."""
    ratio = peer / project
    if 0.95 <= ratio <= 1.05:
        return "about the same"
    times = ratio if ratio > 1 else 1 / ratio
    figure = f"{times:,.0f}" if times >= 10 else f"{times:.1f}"
    return f"{figure}{TIMES} {'slower' if ratio > 1 else 'faster'}"


def micros(seconds: float) -> str:
    value = seconds * 1e6
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


# -- tables -------------------------------------------------------------------------------------


def checkouts_table(report: dict[str, Any]) -> str:
    """One content tab per capture method: every contender's time, rate and speed against the
    project on the same store."""
    parts = []
    for variant in ("manual", "automatic"):
        lines = [
            f'=== "{variant.capitalize()} capture"\n',
            "    | where | contender | µs per checkout | checkouts/s | against payment_intent |",
            "    | --- | --- | ---: | ---: | --- |",
        ]
        for workload in WORKLOADS:
            rows = checkout_rows(report, variant, workload)
            project = project_of(rows)
            for index, row in enumerate(rows):
                where = workload if index == 0 else ""
                name = f"**{row['name']}**" if row["project"] else row["name"]
                if row["median"] is None:
                    lines.append(f"    | {where} | {name} | skipped: {row['skip']} | | |")
                    continue
                against = ""
                if not row["project"] and project is not None:
                    against = speed(row["median"], project["median"])
                lines.append(
                    f"    | {where} | {name} | {micros(row['median'])} "
                    f"| {1 / row['median']:,.0f} | {against} |"
                )
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def targets_table(report: dict[str, Any]) -> str:
    lines = ["| what we aimed for | this run | |", "| --- | --- | --- |"]
    memory_rows = checkout_rows(report, "manual", "in process")
    project = project_of(memory_rows)
    if project is not None:
        rate = 1 / project["median"]
        lines.append(
            f"| at least {CHECKOUTS_PER_SECOND:,} manual-capture checkouts a second, in memory "
            f"| {rate:,.0f} a second | {_met(rate >= CHECKOUTS_PER_SECOND)} |"
        )
    for workload in WORKLOADS:
        rows = checkout_rows(report, "manual", workload)
        project = project_of(rows)
        for row in rows:
            if row["target"] is None or row["median"] is None or project is None:
                continue
            ratio = row["median"] / project["median"]
            if row["target"] >= 1:
                aim = f"{row['target']:g} times as fast as {row['name']}"
                now = f"{ratio:.1f} times"
            else:
                aim = f"at least {row['target']:.0%} as fast as {row['name']}"
                now = f"{ratio:.0%}"
            lines.append(f"| {aim} | {now} | {_met(ratio >= row['target'])} |")
    growths = [
        (store, name, values[-1] / values[0])
        for store, _ in STORES
        for name, values in report.get(f"lists, {store}", {}).get("pages", {}).items()
    ]
    if growths:
        within = [g for g in growths if g[2] <= PAGE_GROWTH]
        every = len(within) == len(growths)
        lines.append(
            f"| a list page among 1,000,000 intents within {PAGE_GROWTH:g} times its time among "
            f"10,000 | {len(within)} of {len(growths)} pages | {_met(every)} |"
        )
    memory = report.get("memory")
    if memory:
        per = memory["bytes_per_intent"]
        lines.append(
            f"| at most {BYTES_PER_INTENT:,} bytes per stored intent, in memory "
            f"| {per:,.0f} bytes | {_met(per <= BYTES_PER_INTENT)} |"
        )
    return "\n".join(lines) + "\n"


def pages_table(report: dict[str, Any]) -> str:
    """One content tab per store: each page's time at every size, and the growth."""
    parts = []
    for store, title in STORES:
        result = report.get(f"lists, {store}")
        if not result:
            continue
        parts.append(f'=== "{title}"\n')
        if "skipped" in result:
            parts.append(f"    Skipped: {result['skipped']}\n")
            continue
        sizes = result["sizes"]
        head = " | ".join(f"{size:,}" for size in sizes)
        rows = [
            f"    | page of 100 (ms) | {head} | largest ÷ smallest |",
            "    | --- |" + " ---: |" * (len(sizes) + 1),
        ]
        for name, values in result["pages"].items():
            figures = " | ".join(f"{v:.2f}" for v in values)
            growth = values[-1] / values[0]
            mark = "" if growth <= PAGE_GROWTH else " (above 1.5)"
            rows.append(f"    | {PAGE_NAMES.get(name, name)} | {figures} | {growth:.2f}{mark} |")
        found = [seconds * 1000 for seconds in result["found"]]
        rows.append(
            "    | sweep: find 1,000 due holds | "
            + " | ".join(f"{v:.2f}" for v in found)
            + f" | {found[-1] / found[0]:.2f} |"
        )
        per_hold = [seconds / 1000 * 1e6 for seconds in result["sweep"]]
        rows.append(
            "    | sweep: expire, µs per hold | "
            + " | ".join(f"{v:,.0f}" for v in per_hold)
            + f" | {per_hold[-1] / per_hold[0]:.2f} |"
        )
        parts.append("\n".join(rows) + "\n")
    return "\n".join(parts)


# -- charts ---------------------------------------------------------------------------------------


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        sys.exit('The charts need matplotlib: pip install -e ".[bench]" (or use --tables-only)')
    matplotlib.use("svg")
    matplotlib.rcParams.update(
        {
            "svg.fonttype": "none",  # text stays text: smaller, and selectable
            "svg.hashsalt": "payment_intent benchmarks",  # the same ids on every run
            "font.family": "DejaVu Sans",  # matplotlib's own font, so it measures text right
            "font.size": 9,
        }
    )
    import matplotlib.pyplot as plt

    return plt


def _rate_label(value: float, _position: int) -> str:
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def _save(figure: Any, path: Path) -> None:
    figure.savefig(path, format="svg", metadata={"Date": None, "Creator": None})


def checkouts_chart(report: dict[str, Any], path: Path) -> None:
    """Horizontal bars, log scale: each contender's checkouts per second, manual and automatic
    capture side by side, grouped by store."""
    plt = _pyplot()
    ticks: list[tuple[float, str]] = []  # y, contender
    bars: list[tuple[float, float, str, str]] = []  # y, rate, colour, value label
    y = 0.0
    heads: list[tuple[float, str]] = []
    for workload in WORKLOADS:
        manual = checkout_rows(report, "manual", workload)
        if not manual:
            continue
        automatic = {row["name"]: row for row in checkout_rows(report, "automatic", workload)}
        heads.append((y, workload[0].upper() + workload[1:]))
        y += 1
        for row in manual:
            ticks.append((y, row["name"]))
            colours = PROJECT_COLOURS if row["project"] else PEER_COLOURS
            for offset, source, colour in (
                (-0.2, row, colours[0]),
                (0.2, automatic.get(row["name"]), colours[1]),
            ):
                if source is not None and source["median"]:
                    rate = 1 / source["median"]
                    bars.append((y + offset, rate, colour, f"{rate:,.0f}"))
            y += 1
        y += 0.3
    height = 0.5 + 0.22 * y
    figure, axes = plt.subplots(figsize=(7.1, height), layout="constrained")
    for position, rate, colour, text in bars:
        axes.barh(position, rate, height=0.38, color=colour)
        axes.text(rate * 1.08, position, text, va="center", fontsize=7.5, color="#333333")
    axes.set_yticks([p for p, _ in ticks], [name for _, name in ticks])
    for position, workload in heads:
        axes.text(
            0.0, position, workload, transform=axes.get_yaxis_transform(), ha="right",
            va="center", fontweight="bold", fontsize=9,
        )  # fmt: skip
    axes.set_xscale("log")
    axes.set_xlim(50, max(rate for _, rate, _, _ in bars) * 12)
    axes.xaxis.set_major_formatter(_rate_label)
    axes.set_ylim(y - 0.5, -0.8)
    axes.set_xlabel("checkouts per second (log scale; more is better)")
    axes.grid(axis="x", color="#e0e0e0", linewidth=0.6)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.tick_params(axis="y", length=0)
    from matplotlib.patches import Patch

    axes.legend(
        handles=[
            Patch(color=PROJECT_COLOURS[0], label="payment_intent, manual capture"),
            Patch(color=PROJECT_COLOURS[1], label="payment_intent, automatic capture"),
            Patch(color=PEER_COLOURS[0], label="peer, manual capture"),
            Patch(color=PEER_COLOURS[1], label="peer, automatic capture"),
        ],
        loc="lower right",
        fontsize=7.5,
        frameon=False,
    )
    _save(figure, path)
    plt.close(figure)


def pages_chart(report: dict[str, Any], path: Path) -> None:
    """One panel per store: each page's time against the number of stored intents."""
    plt = _pyplot()
    figure, panels = plt.subplots(
        1, len(STORES), figsize=(7.1, 3.3), sharey=True, layout="constrained"
    )
    lines = []
    for axes, (store, title) in zip(panels, STORES, strict=True):
        result = report.get(f"lists, {store}", {})
        axes.set_title(title, fontsize=9, fontweight="bold")
        axes.set_xscale("log")
        if "pages" not in result:
            why = result.get("skipped", "not measured")
            axes.text(0.5, 0.5, f"skipped:\n{why}", transform=axes.transAxes, ha="center",
                      fontsize=7, wrap=True)  # fmt: skip
            continue
        sizes = result["sizes"]
        for name, values in result["pages"].items():
            (line,) = axes.plot(sizes, values, marker="o", markersize=3.5, linewidth=1.4)
            line.set_label(PAGE_NAMES.get(name, name))
            lines.append(line)
        axes.set_xticks(sizes, [_rate_label(size, 0) for size in sizes])
        axes.minorticks_off()
        axes.grid(color="#e0e0e0", linewidth=0.6)
        axes.set_xlabel("intents stored", fontsize=8)
        axes.tick_params(labelsize=7.5)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
    panels[0].set_ylabel("ms for a page of 100 (less is better)", fontsize=8)
    panels[0].set_ylim(bottom=0)
    unique = {line.get_label(): line for line in lines}
    figure.legend(
        list(unique.values()), list(unique), loc="outside lower center", ncols=3, fontsize=7.5,
        frameon=False,
    )  # fmt: skip
    _save(figure, path)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="the JSON of run.py --json")
    parser.add_argument("--out", type=Path, default=OUT, help=f"default: {OUT.relative_to(ROOT)}")
    parser.add_argument("--tables-only", action="store_true", help="skip the charts")
    args = parser.parse_args(argv)
    report = json.loads(args.results.read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    if args.results.resolve() != (args.out / "results.json").resolve():
        shutil.copyfile(args.results, args.out / "results.json")
    (args.out / "checkouts.md").write_text(checkouts_table(report))
    (args.out / "targets.md").write_text(targets_table(report))
    (args.out / "pages.md").write_text(pages_table(report))
    if not args.tables_only:
        checkouts_chart(report, args.out / "checkouts.svg")
        pages_chart(report, args.out / "pages.svg")
    print(f"wrote the tables{'' if args.tables_only else ' and charts'} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
