"""The mutation score of ``payment_intent/domain``: which wrong rules would the suite notice?

Not a test and not in CI (a full run takes hours on 2 shared cores); run it before resolving.

    nice -n 10 python tests/mutation/run.py                 # every module of the domain
    nice -n 10 python tests/mutation/run.py --files lifecycle.py,status.py
    python tests/mutation/run.py --report                   # the table from the cached results
    python tests/mutation/run.py --list --files events.py   # the mutants, without running them
    python tests/mutation/run.py --show 1a2b3c4d5e          # one mutant's diff and result

Each mutant is written into a copy of the repository (one copy per worker) and the tests run in a
fresh Python process, so code that runs at import time (the shared machine is built from the
table when ``lifecycle`` is imported) runs mutated. Every run starts with ``.hypothesis/`` removed
and one fixed ``--hypothesis-seed``, so a result does not depend on what an earlier run found.

Two stages, because the stateful and property tests take a minute a run: every mutant first meets
the FAST tests (stopping at the first failure), and only the mutants those leave alive meet the
SLOW ones as well. A mutant is reported as surviving only after both. Results are cached in
``tests/mutation/results.json`` by mutant id (and the digest of the mutated source), so a run
resumes where it stopped; survivors are run again after tests are added (``--recheck``).
Survivors that are equivalent or change only a message are marked in
``tests/mutation/equivalents.json`` with the reason; the score is killed / (killed + the others).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from mutants import Mutant, mutants_of

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
DOMAIN = "payment_intent/domain"
#: The domain-heavy tests, quickest to fail first; every mutant meets these.
FAST = (
    "tests/wire/test_diagram.py",
    "tests/test_transitions.py",
    "tests/test_refusals.py",
    "tests/test_money_after_the_hold.py",
    "tests/test_money_refusals.py",
    "tests/test_registry.py",
    "tests/test_errors.py",
    "tests/test_operations.py",
    "tests/test_sequences.py",
    "tests/test_claims.py",
    "tests/test_intent_fields.py",
    "tests/test_parameter_limits.py",
    "tests/wire/test_requests.py",
    "tests/wire/test_stripe_requests.py",
    "tests/wire/test_amounts_for_people.py",
    "tests/test_invalid_input.py",
)
#: The stateful tests (about a minute): the survivors of FAST meet these too.
SLOW = (
    "tests/test_machine_kit_rules.py",
    "tests/test_stateful.py",
)
_IGNORED = shutil.ignore_patterns(
    ".git", ".venv", ".hypothesis", "__pycache__", ".mypy_cache", ".ruff_cache", "site", "*.pyc"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", help="comma-separated modules of the domain (default: all)")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="mutants run at once")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per mutant and stage")
    parser.add_argument("--seed", type=int, default=0, help="the Hypothesis seed of every run")
    parser.add_argument("--results", type=Path, default=HERE / "results.json")
    parser.add_argument("--equivalents", type=Path, default=HERE / "equivalents.json")
    parser.add_argument("--recheck", action="store_true", help="run survivors again")
    parser.add_argument("--report", action="store_true", help="only print the cached results")
    parser.add_argument("--list", action="store_true", help="only list the mutants")
    parser.add_argument("--show", metavar="ID", help="one mutant's diff and cached result")
    parser.add_argument("--fast", default=",".join(FAST), help="the first stage's test files")
    parser.add_argument("--slow", default=",".join(SLOW), help="the survivors' test files")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--package", default=DOMAIN, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    root: Path = args.root.resolve()
    found = collect(root, args.package, args.files)
    results = load(args.results)
    equivalents = load(args.equivalents)
    if args.list:
        for mutant in found:
            print(f"{mutant.id}  {mutant.path}:{mutant.line}  {mutant.description}")
        return 0
    if args.show:
        return show(root, found, results, equivalents, args.show)
    if not args.report:
        stages = (_split(args.fast), _split(args.slow))
        run_all(root, found, results, equivalents, args, stages)
    # A result of an older version of a module is not this version's: it counts as not run.
    current = {m.id: results[m.id] for m in found if _is_current(root, m, results)}
    print(report(root, found, current, equivalents))
    return 0


def _is_current(root: Path, mutant: Mutant, results: dict[str, Any]) -> bool:
    return mutant.id in results and results[mutant.id]["digest"] == digest(root, mutant)


def _split(text: str) -> tuple[str, ...]:
    return tuple(part for part in text.split(",") if part)


def collect(root: Path, package: str, files: str | None) -> list[Mutant]:
    modules = sorted((root / package).glob("*.py"))
    if files:
        wanted = set(_split(files))
        unknown = wanted - {m.name for m in modules}
        if unknown:
            raise SystemExit(f"--files: no such module in {package}: {', '.join(sorted(unknown))}")
        # in the order given, so the modules that matter most can be measured first
        modules = [root / package / name for name in _split(files)]
    return [mutant for module in modules for mutant in mutants_of(module, root)]


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def digest(root: Path, mutant: Mutant) -> str:
    return hashlib.sha1(mutant.apply((root / mutant.path).read_bytes())).hexdigest()[:12]


# -- running ---------------------------------------------------------------------------------


def run_all(
    root: Path,
    found: list[Mutant],
    results: dict[str, Any],
    equivalents: dict[str, Any],
    args: argparse.Namespace,
    stages: tuple[tuple[str, ...], tuple[str, ...]],
) -> None:
    wanted = _stages_name(stages)

    def pending(mutant: Mutant) -> bool:
        cached = results.get(mutant.id)
        if cached is None or cached["digest"] != digest(root, mutant):
            return True
        if mutant.id in equivalents:
            return False  # classified by hand: nothing a test could change
        met_fewer = wanted != "fast" and cached.get("stages") == "fast"
        return cached["status"] == "survived" and (args.recheck or met_fewer)

    todo = [m for m in found if pending(m)]
    print(f"{len(found)} mutants, {len(todo)} to run, {args.jobs} at a time", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="mutation-") as scratch:
        sandboxes: list[Path] = []
        for index in range(max(1, args.jobs)):
            sandbox = Path(scratch) / f"worker{index}"
            shutil.copytree(root, sandbox, ignore=_IGNORED, symlinks=True)
            sandboxes.append(sandbox)
        for sandbox in sandboxes:
            imported_from(sandbox, args.package)
        # Unmutated, both stages must pass, or every mutant would look killed.
        with ThreadPoolExecutor(max_workers=2) as pool:
            baselines = [
                pool.submit(
                    run_tests, sandboxes[i % len(sandboxes)], stage, args.seed, args.timeout
                )
                for i, stage in enumerate(stages)
                if stage
            ]
            for baseline in (future.result() for future in baselines):
                if baseline["status"] != "survived":
                    raise SystemExit(f"the unmutated suite does not pass: {baseline}")
        print("the unmutated suite passes", file=sys.stderr)
        free = list(sandboxes)
        lock = threading.Lock()
        started = time.monotonic()

        def one(mutant: Mutant) -> dict[str, Any]:
            with lock:
                sandbox = free.pop()
            try:
                return run_mutant(root, sandbox, mutant, stages, args.seed, args.timeout)
            finally:
                with lock:
                    free.append(sandbox)

        with ThreadPoolExecutor(max_workers=len(sandboxes)) as pool:
            futures = {pool.submit(one, m): m for m in todo}
            for done, future in enumerate(as_completed(futures), 1):
                mutant = futures[future]
                results[mutant.id] = future.result()
                with lock:
                    save(args.results, results)
                elapsed = time.monotonic() - started
                print(
                    f"[{done}/{len(todo)} {elapsed:.0f}s] {results[mutant.id]['status']:8} "
                    f"{mutant.path}:{mutant.line} {mutant.description}",
                    file=sys.stderr,
                )


def _stages_name(stages: tuple[tuple[str, ...], tuple[str, ...]]) -> str:
    """``fast``, or ``fast+`` the second stage's test files, as a result records them."""
    return "+".join(["fast", *(Path(test).name for test in stages[1])])


def imported_from(sandbox: Path, package: str) -> None:
    """Make sure the tests in ``sandbox`` import its copy of ``package``, not an installed one
    (an editable install of the main checkout, say), or every mutant would look alive."""
    module = package.replace("/", ".")
    command = [sys.executable, "-c", f"import {module}; print({module}.__file__)"]
    env = {**os.environ, "PYTHONPATH": str(sandbox)}
    origin = subprocess.run(command, cwd=sandbox, env=env, capture_output=True, text=True)
    if not origin.stdout.strip().startswith(str(sandbox)):
        raise SystemExit(f"{module} is imported from {origin.stdout or origin.stderr}")


def save(path: Path, results: dict[str, Any]) -> None:
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    partial.replace(path)


def run_mutant(
    root: Path,
    sandbox: Path,
    mutant: Mutant,
    stages: tuple[tuple[str, ...], tuple[str, ...]],
    seed: int,
    timeout: float,
) -> dict[str, Any]:
    target = sandbox / mutant.path
    # The sandbox's copy, taken with the mutants at the start: the checkout may change meanwhile.
    original = target.read_bytes()
    target.write_bytes(mutant.apply(original))
    try:
        outcome = run_tests(sandbox, stages[0], seed, timeout)
        if outcome["status"] == "survived" and stages[1]:
            slow = run_tests(sandbox, stages[1], seed, timeout)
            slow["seconds"] += outcome["seconds"]
            outcome = slow
    finally:
        target.write_bytes(original)
    return {
        **outcome,
        "digest": digest(sandbox, mutant),
        "path": mutant.path,
        "line": mutant.line,
        "mutation": mutant.description,
        # A survivor of the first stage alone may yet die in the second: say which it met.
        "stages": _stages_name(stages),
    }


def run_tests(sandbox: Path, tests: Iterable[str], seed: int, timeout: float) -> dict[str, Any]:
    """One fresh process of pytest in ``sandbox``: ``survived`` if every test passed."""
    shutil.rmtree(sandbox / ".hypothesis", ignore_errors=True)
    command = [
        sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
        f"--hypothesis-seed={seed}", "-o", "addopts=", "-rf", *tests,
    ]  # fmt: skip
    # No bytecode is written: a mutant of the same size written within the same second would
    # otherwise be served from the previous mutant's stale .pyc.
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(sandbox)}
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=sandbox,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        text=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return {"status": "timeout", "seconds": time.monotonic() - started, "killed_by": None}
    seconds = time.monotonic() - started
    if process.returncode == 0:
        return {"status": "survived", "seconds": seconds, "killed_by": None}
    failed = [line[7:] for line in output.splitlines() if line.startswith("FAILED ")]
    errors = [line[6:] for line in output.splitlines() if line.startswith("ERROR ")]
    killed_by = (failed or errors or [f"exit status {process.returncode}"])[0]
    return {"status": "killed", "seconds": seconds, "killed_by": killed_by[:200]}


# -- reporting -------------------------------------------------------------------------------


def classify(mutant: Mutant, results: dict[str, Any], equivalents: dict[str, Any]) -> str:
    """``killed``, ``timeout``, ``survived`` (a real gap), ``equivalent``, ``message`` or
    ``not run``; a mark in the equivalents file applies only to a mutant that survives."""
    cached = results.get(mutant.id)
    if cached is None:
        return "not run"
    if cached["status"] == "survived" and mutant.id in equivalents:
        return str(equivalents[mutant.id]["kind"])
    return str(cached["status"])


def report(root: Path, found: list[Mutant], results: dict[str, Any], eq: dict[str, Any]) -> str:
    columns = ("killed", "timeout", "survived", "equivalent", "message", "not run")
    rows: dict[str, dict[str, int]] = {}
    for mutant in found:
        row = rows.setdefault(Path(mutant.path).name, dict.fromkeys(columns, 0))
        row[classify(mutant, results, eq)] += 1
    rows["all"] = {c: sum(r[c] for r in rows.values()) for c in columns}
    lines = [
        "| module | mutants | killed | timeout | survived | equivalent | message only | "
        "not run | score |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        caught = row["killed"] + row["timeout"]
        scored = caught + row["survived"]
        score = f"{100 * caught / scored:.1f}%" if scored else "-"
        label = f"**{name}**" if name == "all" else name
        counts = " | ".join(str(row[c]) for c in columns)
        lines.append(f"| {label} | {sum(row.values())} | {counts} | {score} |")
    lines.append("")
    lines.append("Score: (killed + timeout) / (killed + timeout + survived); equivalent and")
    lines.append("message-only survivors are counted apart.")
    survivors = [
        m for m in found if classify(m, results, eq) in ("survived", "equivalent", "message")
    ]
    if survivors:
        lines.append("")
        lines.append("Survivors:")
        for mutant in survivors:
            kind = classify(mutant, results, eq)
            why = eq.get(mutant.id, {}).get("reason", "")
            if results[mutant.id].get("stages") == "fast":
                kind += ", fast stage only"
            lines.append(
                f"- `{mutant.id}` {mutant.path}:{mutant.line} ({mutant.scope}) "
                f"{mutant.description} [{kind}]{': ' + why if why else ''}"
            )
    return "\n".join(lines)


def show(
    root: Path, found: list[Mutant], results: dict[str, Any], eq: dict[str, Any], wanted: str
) -> int:
    for mutant in found:
        if mutant.id == wanted:
            print(f"{mutant.id}  {mutant.path}:{mutant.line}  ({mutant.scope})")
            print(mutant.description)
            print(mutant.diff((root / mutant.path).read_bytes()))
            print(json.dumps({"result": results.get(wanted), "marked": eq.get(wanted)}, indent=1))
            return 0
    print(f"--show: no mutant {wanted}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
