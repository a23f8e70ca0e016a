"""The benchmark entry point: the project against its peers, side by side in one process run.

Not a test (pytest does not collect it): run it and read the figures.

    python tests/benchmarks/run.py              # full run, 5 to 7 minutes on 2 cores
    python tests/benchmarks/run.py --quick      # a few seconds per workload
    python tests/benchmarks/run.py --only checkout-memory,memory
    python tests/benchmarks/run.py --profile 2000   # where the time of one checkout goes

Checkout workloads (manual capture: create, confirm with a card, capture 100,000 of 120,000;
automatic: create, confirm) run every contender of the workload after a warm-up, then ``repeats``
rounds in which each contender runs one timed pass, round-robin and in a rotating order, so noise
from the shared machine falls on all of them. The table shows the median time per checkout, the
rate, each peer's time divided by the project's (how many times faster the project is), the
issue's target for that ratio, and the peak memory of one extra pass (tracemalloc for contenders in
this process, the server's VmHWM for servers). A peer that cannot run says why ("skipped: ...").

Store workloads seed growing stores (10k, 100k, 1M intents; ``--quick`` smaller) and time a list
page of 100 for several filters and the expiry sweep of 1,000 due holds; the memory workload
measures the in-memory store's bytes per stored intent.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contenders
from contenders import Contender, Runner

from payment_intent import InMemoryStore, ManualClock, PaymentIntents, SQLiteStore
from payment_intent.errors import CardError


@dataclass
class Settings:
    """How long and how large: ``--quick`` and ``--smoke`` shrink everything."""

    pass_seconds: float = 0.3
    repeats: int = 7
    sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    due: int = 1_000
    memory_intents: int = 20_000
    fixed_pass_scale: float = 1.0  # scales a peer's fixed pass size (localstripe)
    warm_up: int = 20  # checkouts of the untimed first pass, and the fewest in a timed pass
    declines: int = 1_000  # declined confirms on one intent
    race_programs: int = 20  # drawn programs of 3 workers x 20 calls, each run and judged once


PRESETS = {
    "full": Settings(),
    "quick": Settings(0.05, 3, (10_000, 50_000), 1_000, 5_000, 0.5, 10, 300, 5),
    "smoke": Settings(0.003, 1, (500, 1_000), 50, 300, 0.05, 2, 30, 2),
}


@dataclass
class Row:
    """One contender's figures in one workload (``skip`` set when it did not run)."""

    name: str
    project: bool = False
    skip: str | None = None
    times: list[float] = field(default_factory=list)  # seconds per checkout, one per pass
    pass_size: int = 0
    peak_kib: float | None = None
    peak_kind: str = ""
    notes: str = ""
    target: float | None = None
    target_text: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.times)


# -- timing ----------------------------------------------------------------------------------


def timed_pass(runner: Runner, count: int) -> float:
    """Seconds per checkout of one pass of ``count`` checkouts."""
    runner.begin_pass()
    gc.collect()
    began = time.perf_counter()
    runner.run(count)
    return (time.perf_counter() - began) / count


def size_pass(runner: Runner, settings: Settings) -> int:
    """Warm up, then pick the checkouts per pass that take about ``pass_seconds``."""
    timed_pass(runner, settings.warm_up)  # first calls pay for imports, caches, connections
    if runner.pass_size is not None:
        return max(2, round(runner.pass_size * settings.fixed_pass_scale))
    count, spent = settings.warm_up, 0.0
    while True:
        spent = timed_pass(runner, count) * count
        if spent >= settings.pass_seconds / 4 or count >= 1_000_000:
            break
        count *= 4
    wanted = round(count * settings.pass_seconds / max(spent, 1e-9))
    return max(settings.warm_up, min(1_000_000, wanted))


def vm_hwm_kib(pid: int) -> float | None:
    """A process's peak resident memory (Linux ``VmHWM``), in KiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def peak_memory(runner: Runner, count: int) -> tuple[float | None, str]:
    """Peak memory of one extra pass: the server's VmHWM, or tracemalloc's peak in process."""
    if runner.pid is not None:
        return vm_hwm_kib(runner.pid), "server VmHWM"
    runner.begin_pass()
    gc.collect()
    tracemalloc.start()
    try:
        runner.run(count)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak / 1024, f"traced, {count:,} checkouts"


def measure(title: str, entries: list[Contender], settings: Settings) -> list[Row]:
    """Open every contender, warm each up, then time them round-robin; print the table."""
    rows = [
        Row(c.name, c.project, c.skip, target=c.target, target_text=c.target_text) for c in entries
    ]
    print(f"\n== {title} ==", flush=True)
    with ExitStack() as stack:
        live: list[tuple[Row, Runner]] = []
        for contender, row in zip(entries, rows, strict=True):
            if row.skip:
                continue
            try:
                runner = stack.enter_context(contender.open())
                row.pass_size = size_pass(runner, settings)
            except Exception as error:
                row.skip = f"failed to run: {type(error).__name__}: {error}"[:200]
                continue
            live.append((row, runner))
        for repeat in range(settings.repeats):
            shift = repeat % max(len(live), 1)
            for row, runner in live[shift:] + live[:shift]:
                row.times.append(timed_pass(runner, row.pass_size))
        for row, runner in live:
            row.peak_kib, row.peak_kind = peak_memory(runner, row.pass_size)
            row.notes = runner.notes()
    print_table(rows)
    return rows


def print_table(rows: list[Row]) -> None:
    project = next((r for r in rows if r.project and r.times), None)
    header = (
        f"{'contender':<36} {'µs/checkout':>12} {'checkouts/s':>12} {'x project':>10}"
        f"  {'target':<26} {'peak memory':>12}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        if not row.times:
            print(f"{row.name:<36} skipped: {row.skip}")
            continue
        ratio = "" if project is None else f"{row.median / project.median:10.2f}"
        verdict = ""
        if row.target is not None and project is not None:
            met = row.median / project.median >= row.target
            verdict = f"{row.target_text} {'met' if met else 'MISSED'}"
        peak = f"{row.peak_kib / 1024:9.1f} MiB" if row.peak_kib is not None else ""
        print(
            f"{row.name:<36} {row.median * 1e6:12.1f} {1 / row.median:12,.0f} {ratio:>10}"
            f"  {verdict:<26} {peak:>12}"
        )
    details = [
        f"  {r.name}: {len(r.times)} passes of {r.pass_size:,}; peak = {r.peak_kind}"
        + (f"; {r.notes}" if r.notes else "")
        for r in rows
        if r.times
    ]
    print("\n".join(details), flush=True)


# -- PostgreSQL --------------------------------------------------------------------------------


@contextmanager
def postgres(dsn: str | None, wanted: bool) -> Iterator[tuple[str | None, str | None]]:
    """(dsn, None) for a server to use, or (None, why PostgreSQL is skipped)."""
    if not wanted:
        yield None, "--no-postgres was given"
        return
    if dsn is not None:
        yield dsn, None
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "storage"))
    try:
        import psycopg  # noqa: F401
        from postgres_server import throwaway_cluster
    except Exception as error:
        yield (
            None,
            f"psycopg or the cluster helper is missing ({error}); pip install -e '.[postgres]'",
        )
        return
    cluster = throwaway_cluster(durable=True)
    try:
        url = cluster.__enter__()
    except BaseException as error:  # the helper skips through pytest when initdb is missing
        yield None, f"no throwaway cluster: {str(error).strip() or type(error).__name__}"
        return
    try:
        yield url, None
    finally:
        cluster.__exit__(None, None, None)


# -- list pages and the expiry sweep ------------------------------------------------------------


def seed_memory(
    store: InMemoryStore, base: Any, start: int, count: int, due: int, held: int
) -> float:
    """Seed through the public port: one ``Commit`` per intent, as a create would store it."""
    import bench_storage

    from payment_intent.ports import Commit

    began = time.perf_counter()
    for offset in range(count):
        intent = bench_storage.seeded_intent(
            base, start + offset, due=offset < due, held=due <= offset < due + held
        )
        store.commit(Commit(intent.model_copy(update={"version": 1}), 0))
    return time.perf_counter() - began


def store_scaling(
    kind: str, open_store: Callable[[], AbstractContextManager[Any]], settings: Settings
) -> dict[str, Any]:
    """Seed a store to each size in turn; at each, sweep ``due`` lapsed holds and time the pages."""
    import bench_storage

    sizes, due = settings.sizes, settings.due
    result: dict[str, Any] = {"pages": {}, "sweep": [], "found": [], "sizes": list(sizes)}
    print(f"\n== list pages and expiry sweep, {kind} ==", flush=True)
    with open_store() as store:
        service = PaymentIntents(store, ManualClock(bench_storage.NOW))
        base = bench_storage.template()
        seeded, middle_id = 0, None
        for size in sizes:
            count = size - seeded
            if kind == "memory":
                took = seed_memory(store, base, seeded, count, due, min(1_000, count - due))
            else:
                took = bench_storage.seed(
                    kind, store, base, seeded, count, due, min(1_000, count - due)
                )
            print(f"seeded {count:,} intents ({size:,} stored) in {took:.1f} s", flush=True)
            seeded = size
            found, total = bench_storage.sweep(service, due)
            result["found"].append(found)
            result["sweep"].append(total)
            if middle_id is None:  # a cursor in the middle of the first size, kept for all
                created = bench_storage.NOW - 2_000_000 + size // 2
                middle_id = service.list(limit=1, created=created).data[0].id
            for name, ms in fastest_pages(service, middle_id).items():
                result["pages"].setdefault(name, []).append(ms)
    print_scaling(result, due)
    return result


def fastest_pages(service: PaymentIntents, middle_id: str, repeat: int = 30) -> dict[str, float]:
    """Each page's fastest time of ``repeat`` (ms): its cost with the shared machine's noise
    taken out, which is what the flat-cost comparison across store sizes needs."""
    import bench_storage

    fastest: dict[str, float] = {}
    for name, arguments in bench_storage.list_queries(service, middle_id).items():
        service.list(limit=100, **arguments)  # warm caches and prepared statements
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            service.list(limit=100, **arguments)
            times.append(time.perf_counter() - began)
        fastest[name] = min(times) * 1000
    return fastest


def print_scaling(result: dict[str, Any], due: int) -> None:
    sizes = result["sizes"]
    cols = "".join(f"{s:>12,}" for s in sizes)
    print(f"{'list page, limit=100 (fastest ms)':<34}{cols}  {'large/small':>11}  target ≤ 1.5")
    for name, values in result["pages"].items():
        ratio = values[-1] / values[0]
        figures = "".join(f"{v:12.3f}" for v in values)
        print(f"  {name:<32}{figures}  {ratio:11.2f}  {'met' if ratio <= 1.5 else 'MISSED'}")
    print(f"{f'expiry sweep, {due:,} due holds':<34}{cols}  {'large/small':>11}")
    found = "".join(f"{v * 1000:12.2f}" for v in result["found"])
    growth = result["found"][-1] / result["found"][0]
    print(f"  {'find the due holds (ms)':<32}{found}  {growth:11.2f}")
    per = [t / due * 1e6 for t in result["sweep"]]
    figures = "".join(f"{v:12.1f}" for v in per)
    print(f"  {'expire, µs per due hold':<32}{figures}  {per[-1] / per[0]:11.2f}", flush=True)


@contextmanager
def memory_store() -> Iterator[InMemoryStore]:
    yield InMemoryStore()


@contextmanager
def sqlite_store() -> Iterator[SQLiteStore]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="harness-scale-") as directory:
        store = SQLiteStore(Path(directory) / "scale.db")
        try:
            yield store
        finally:
            store.close()


@contextmanager
def postgres_store(dsn: str) -> Iterator[Any]:
    from payment_intent.adapters.postgres import PostgresStore

    store = PostgresStore(dsn)
    try:
        with store._connection() as connection:  # a clean table for this workload
            connection.execute("TRUNCATE payment_intents, payment_intent_events CASCADE")
        yield store
    finally:
        store.close()


# -- memory per stored intent -------------------------------------------------------------------


def memory_per_intent(settings: Settings) -> dict[str, float]:
    """Bytes the in-memory store holds per intent after N manual checkouts (target ≤ 2 KB)."""
    count = settings.memory_intents
    print(f"\n== memory per stored intent, InMemoryStore, {count:,} manual checkouts ==")
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    store = InMemoryStore()
    service = PaymentIntents(store=store, clock=ManualClock(contenders.NOW))
    contenders.service_checkouts(service, count, True, False)
    del service
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    per = held / count
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"held by the store: {per:,.0f} bytes per stored intent (its 3 versions' events included)"
        f"  target ≤ 2,048: {'met' if per <= 2048 else 'MISSED'}"
    )
    print(f"this process's peak resident memory so far: {maxrss:,.0f} MiB", flush=True)
    store.list_intents  # keep the store alive until measured  # noqa: B018
    return {"bytes_per_intent": per, "process_peak_mib": maxrss}


# -- declines on one intent ------------------------------------------------------------------------


def declines_on_one_intent(settings: Settings) -> dict[str, float]:
    """Declined confirms on one intent in a SQLite store: the cost of the last against the first,
    and what the file grows by per decline (data and write-ahead log)."""
    count = settings.declines
    window = max(5, count // 50)
    print(f"\n== {count:,} declined confirms on one intent, SQLite ==")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "declines.sqlite3"
        store = SQLiteStore(path)
        service = PaymentIntents(store=store, clock=ManualClock(contenders.NOW))
        intent = service.create(amount=5_000, currency="eur")
        times: list[float] = []
        sizes: list[int] = []
        for n in range(count):
            began = time.perf_counter()
            with suppress(CardError):  # every one is declined, as asked
                service.confirm(intent.id, payment_method="pm_card_visa_chargeDeclined")
            times.append(time.perf_counter() - began)
            if n in (count // 2 - 1, count - 1):
                sizes.append(sum(f.stat().st_size for f in Path(folder).iterdir()))
        store.close()
    first = statistics.median(times[:window])
    last = statistics.median(times[-window:])
    half = count - count // 2
    growth = (sizes[1] - sizes[0]) / half
    print(f"first {window}: {first * 1e6:,.0f} µs each; last {window}: {last * 1e6:,.0f} µs each")
    print(f"the last against the first: {last / first:.2f}x  (target ≤ 1.5x)")
    print(f"the store grows by {growth:,.0f} bytes per decline over the second half")
    return {"first_us": first * 1e6, "last_us": last * 1e6, "bytes_per_decline": growth}


# -- races: the concurrent runner and its verdict ------------------------------------------------


def race_verdicts(settings: Settings) -> dict[str, float]:
    """The time to a linearizability verdict: drawn programs of 3 workers x 20 calls on up to 2
    intents, each run once on threads over the in-memory store, then judged."""
    from hypothesis.errors import NonInteractiveExampleWarning

    from payment_intent.testing import check_linearizable, programs, run_concurrently

    count = settings.race_programs
    print(f"\n== time to a verdict: {count} programs of 3 workers x 20 calls, in memory ==")
    drawn = programs(workers=3, calls=20, min_calls=20)
    runs: list[float] = []
    checks: list[float] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonInteractiveExampleWarning)
        for _ in range(count):
            program = drawn.example()
            began = time.perf_counter()
            history = run_concurrently(program)
            ran = time.perf_counter()
            verdict = check_linearizable(history)
            runs.append(ran - began)
            checks.append(time.perf_counter() - ran)
            assert verdict.linearizable, verdict.explain()
    run, check = statistics.median(runs), statistics.median(checks)
    total = max(a + b for a, b in zip(runs, checks, strict=True))
    print(f"run: {run * 1e3:,.1f} ms median; verdict: {check * 1e3:,.1f} ms median")
    together = (run + check) * 1e3
    print(f"run and verdict together: {together:,.1f} ms median, {total * 1e3:,.1f} ms at most")
    return {"run_ms": run * 1e3, "verdict_ms": check * 1e3, "worst_total_ms": total * 1e3}


# -- where the time goes --------------------------------------------------------------------------

LAYERS = (
    (
        "models (pydantic: validating, building)",
        (
            "pydantic",
            "payment_intent/domain/params.py",
            "payment_intent/domain/currencies.py",
            "payment_intent/domain/model.py",
        ),
    ),
    ("transitions", ("/transitions/", "payment_intent/domain/lifecycle.py")),
    ("ids/events", ("payment_intent/ids.py",)),
    ("store", ("payment_intent/adapters/memory.py", "sortedcontainers")),
    ("domain", ("payment_intent/domain/",)),
    (
        "service",
        ("payment_intent/service/", "payment_intent/ports.py", "payment_intent/adapters/"),
    ),
    ("harness", ("tests/benchmarks/",)),
)
SERIALIZERS = ("to_json", "to_python", "dumps", "encode")


def layer_of(key: tuple[str, int, str]) -> str | None:
    """The layer a function belongs to by its file; None for builtins and the standard library,
    whose time is charged to whoever called them."""
    filename, _, name = key
    if filename == "~" and any(word in name for word in SERIALIZERS):
        return "serialization (JSON)"
    if filename == "~" or filename.startswith("<"):
        return None
    for layer, markers in LAYERS:
        if any(marker in filename for marker in markers):
            return layer
    return None


def charged_layer(key: Any, raw: dict[Any, Any], depth: int = 0) -> str:
    """The layer of ``key``, or of the caller that spent most time in it (up to 4 calls up)."""
    layer = layer_of(key)
    if layer is not None:
        return layer
    callers = raw.get(key, (0, 0, 0, 0, {}))[4]
    if depth >= 4 or not callers:
        return "other (stdlib)"
    caller = max(callers.items(), key=lambda item: item[1][2])[0]
    return charged_layer(caller, raw, depth + 1)


def profile(count: int) -> None:
    """cProfile of ``count`` in-memory manual checkouts; own time grouped by layer."""
    service = PaymentIntents(store=InMemoryStore(), clock=ManualClock(contenders.NOW))
    contenders.service_checkouts(service, 200, True, False)  # warm-up
    profiler = cProfile.Profile()
    profiler.enable()
    contenders.service_checkouts(service, count, True, False)
    profiler.disable()
    stats = pstats.Stats(profiler)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values())
    by_layer: dict[str, float] = {}
    rows = []
    for key, (_cc, calls, own, _cumulative, _callers) in raw.items():
        layer = charged_layer(key, raw)
        by_layer[layer] = by_layer.get(layer, 0.0) + own
        rows.append((own, calls, layer, key))
    print(f"\n== where the time goes: {count:,} manual checkouts in memory, under cProfile ==")
    print(f"profiled: {total / count * 1e6:.1f} µs per checkout (cProfile slows calls down)")
    for layer, own in sorted(by_layer.items(), key=lambda item: -item[1]):
        print(f"  {layer:<26} {own / total:6.1%}  {own / count * 1e6:8.1f} µs")
    print("top functions by own time:")
    for own, calls, layer, (filename, line, name) in sorted(rows, reverse=True)[:20]:
        short = filename.split("site-packages/")[-1].split("/work/")[-1]
        where = f"{name} ({short}:{line})"
        print(f"  {own / total:6.1%} {calls / count:6.1f}/checkout  {layer:<22} {where}")


# -- main ------------------------------------------------------------------------------------------

WORKLOADS = (
    "checkout-memory",
    "checkout-sqlite",
    "checkout-postgres",
    "checkout-http",
    "lists",
    "memory",
    "declines",
    "races",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    preset = parser.add_mutually_exclusive_group()
    preset.add_argument("--quick", action="store_true", help="a few seconds per workload")
    preset.add_argument("--smoke", action="store_true", help="tiny sizes: checks it runs")
    parser.add_argument("--only", help=f"comma-separated subset of {', '.join(WORKLOADS)}")
    parser.add_argument("--repeats", type=int, help="timed passes per contender")
    parser.add_argument("--sizes", help="store sizes for the lists workload, e.g. 10000,1000000")
    parser.add_argument("--dsn", help="an existing PostgreSQL database (default: a throwaway one)")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL rows")
    parser.add_argument("--profile", type=int, metavar="N", help="only profile N checkouts")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    if args.profile is not None:
        if args.profile < 1:
            parser.error("--profile takes a positive number of checkouts")
        profile(args.profile)
        return 0
    settings = PRESETS["quick" if args.quick else "smoke" if args.smoke else "full"]
    if args.repeats is not None:
        if args.repeats < 1:
            parser.error("--repeats must be at least 1")
        settings.repeats = args.repeats
    if args.sizes:
        try:
            sizes = tuple(int(s) for s in args.sizes.split(","))
        except ValueError:
            parser.error("--sizes takes comma-separated integers")
        if len(sizes) < 2 or sorted(sizes) != list(sizes) or sizes[0] <= 2 * settings.due:
            parser.error(f"--sizes needs 2+ increasing sizes above {2 * settings.due}")
        settings.sizes = sizes
    chosen = WORKLOADS if not args.only else tuple(s.strip() for s in args.only.split(","))
    unknown = set(chosen) - set(WORKLOADS)
    if unknown:
        parser.error(f"--only: unknown {', '.join(sorted(unknown))}; use {', '.join(WORKLOADS)}")

    began = time.perf_counter()
    print(
        f"python {sys.version.split()[0]}; {time.strftime('%Y-%m-%d %H:%M')}; preset "
        f"{'quick' if args.quick else 'smoke' if args.smoke else 'full'}; "
        f"{settings.repeats} timed passes of ~{settings.pass_seconds} s per contender"
    )
    report: dict[str, Any] = {}
    needs_pg = "checkout-postgres" in chosen or "lists" in chosen
    with (
        postgres(args.dsn, needs_pg and not args.no_postgres)
        if needs_pg
        else nullcontext((None, "not asked")) as (dsn, why)
    ):
        for manual in (True, False):
            variant = "manual capture" if manual else "automatic capture"
            if "checkout-memory" in chosen:
                report[f"checkout, {variant}, in process"] = measure(
                    f"checkout, {variant}, in process", contenders.in_process(manual), settings
                )
            if "checkout-sqlite" in chosen:
                report[f"checkout, {variant}, SQLite"] = measure(
                    f"checkout, {variant}, SQLite (WAL, synchronous=NORMAL)",
                    contenders.sqlite(manual),
                    settings,
                )
            if "checkout-postgres" in chosen:
                report[f"checkout, {variant}, PostgreSQL"] = measure(
                    f"checkout, {variant}, PostgreSQL (fsync, synchronous_commit on)",
                    contenders.postgres(dsn, why, manual),
                    settings,
                )
            if "checkout-http" in chosen:
                report[f"checkout, {variant}, HTTP"] = measure(
                    f"checkout, {variant}, HTTP on loopback (same client)",
                    contenders.http(manual),
                    settings,
                )
        if "memory" in chosen:
            report["memory"] = memory_per_intent(settings)
        if "declines" in chosen:
            report["declines"] = declines_on_one_intent(settings)
        if "races" in chosen:
            report["races"] = race_verdicts(settings)
        if "checkout-memory" in chosen and report.get("checkout, manual capture, in process"):
            rows = report["checkout, manual capture, in process"]
            project = next(r for r in rows if r.project)
            if project.times:
                rate = 1 / project.median
                print(
                    f"\nin-memory manual checkouts: {rate:,.0f}/s  target ≥ 20,000/s: "
                    f"{'met' if rate >= 20_000 else 'MISSED'}"
                )
        if "lists" in chosen:
            report["lists, memory"] = store_scaling("memory", memory_store, settings)
            report["lists, sqlite"] = store_scaling("sqlite", sqlite_store, settings)
            if dsn is None:
                print(f"\n== list pages and expiry sweep, postgres ==\nskipped: {why}")
                report["lists, postgres"] = {"skipped": why}
            else:
                report["lists, postgres"] = store_scaling(
                    "postgres", lambda: postgres_store(dsn), settings
                )
    print(f"\n(the run took {time.perf_counter() - began:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(report, default=lambda o: o.__dict__, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
