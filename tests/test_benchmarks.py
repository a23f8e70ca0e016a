"""The benchmark harness runs: at a tiny size, every workload prints its table, and a peer that
cannot run says why. No timing is asserted here; the figures are read, not tested."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).parent / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def smoke_output() -> str:
    done = subprocess.run(
        [sys.executable, str(HARNESS), "--smoke", "--no-postgres"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def section(output: str, title: str) -> list[str]:
    """The lines of the section whose header starts with ``== title``."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"== {title}"))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("== ")), len(lines))
    return lines[start + 1 : end]


@pytest.mark.parametrize(
    ("title", "names"),
    [
        (
            "checkout, manual capture, in process",
            [
                "payment_intent, InMemoryStore",
                "dataclass + dict table (floor)",
                "transitions, shared machine, bare",
                "transitions, machine per object",
                "python-statemachine, per object",
                "localstripe, in process",
            ],
        ),
        ("checkout, automatic capture, SQLite", ["payment_intent, SQLiteStore", "raw sqlite3"]),
        (
            "checkout, manual capture, PostgreSQL",
            ["payment_intent, PostgresStore", "raw psycopg"],
        ),
        ("checkout, manual capture, HTTP", ["payment-intent serve", "localstripe server"]),
    ],
)
def test_every_contender_has_a_row(smoke_output: str, title: str, names: list[str]) -> None:
    lines = section(smoke_output, title)
    for name in names:
        row = next((line for line in lines if line.startswith(name)), None)
        assert row is not None, f"no row for {name!r} in {title!r}:\n" + "\n".join(lines)
        figures = row[36:].split()
        if figures[0] == "skipped:":
            # Skipping is for what is absent (a peer not installed, no PostgreSQL), never for a
            # contender that broke while it ran.
            reason = " ".join(figures[1:])
            assert reason, row
            assert not reason.startswith("failed to run"), row
        else:
            assert float(figures[0]) > 0, row


def test_skipped_peers_say_why(smoke_output: str) -> None:
    lines = section(smoke_output, "checkout, manual capture, PostgreSQL")
    assert any("skipped: --no-postgres was given" in line for line in lines), lines
    assert "skipped: --no-postgres was given" in "\n".join(
        section(smoke_output, "list pages and expiry sweep, postgres")
    )


def test_store_and_memory_workloads_report(smoke_output: str) -> None:
    for store in ("memory", "sqlite"):
        lines = section(smoke_output, f"list pages and expiry sweep, {store}")
        assert any(line.strip().startswith("newest") for line in lines), lines
        assert any("per due hold" in line for line in lines), lines
    memory = section(smoke_output, "memory per stored intent")
    assert any("bytes per stored intent" in line for line in memory), memory
