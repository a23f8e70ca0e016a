"""Every Python example in the docs and the README runs, as written, as part of the suite.

How a ```python block is run depends on its title (mkdocs-material shows it above the block):

- no title: executed in order with the page's other untitled blocks, in one namespace, like a
  session (so an example may build on the one before it);
- ``title="test_....py"``: a test module, run by pytest in a fresh directory beside the page's
  other titled modules, with the installed plugin, as a user's project would; it must pass;
- ``title="other.py"``: a module the page's tests and examples import (written, not run alone).

An HTML comment just before a block, invisible on the site, can say more:
``<!-- docs-test: skip because ... -->`` (never run), or
``<!-- docs-test: requires some.module -->`` (skipped, with the reason, where it is not installed).
Blocks in other languages (sh, text, yaml) are not run.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]

_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)(?P<attrs>[^\n]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
_TITLE = re.compile(r'title="(?P<title>[^"]+)"')
_DIRECTIVE = re.compile(r"<!--\s*docs-test:\s*(?P<what>\w+)\s*(?P<arg>.*?)\s*-->\s*\Z")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    title: str | None
    directive: str | None
    argument: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def is_test_module(self) -> bool:
        return self.title is not None and Path(self.title).name.startswith("test_")


def python_blocks(page: Path) -> list[Block]:
    text = page.read_text()
    blocks = []
    for match in _FENCE.finditer(text):
        if match["lang"] != "python":
            continue
        before = text[: match.start()].rstrip()
        directive = _DIRECTIVE.search(before.splitlines()[-1] if before else "")
        title = _TITLE.search(match["attrs"])
        blocks.append(
            Block(
                page=page,
                line=text.count("\n", 0, match.start()) + 1,
                title=title["title"] if title else None,
                directive=directive["what"] if directive else None,
                argument=directive["arg"] if directive else "",
                code=textwrap.dedent(match["body"]),
            )
        )
    return blocks


def missing_requirement(block: Block) -> str | None:
    if block.directive == "requires" and importlib.util.find_spec(block.argument) is None:
        return f"{block.where} needs {block.argument}, which is not installed"
    return None


def runnable(block: Block) -> bool:
    return block.directive != "skip"


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def test_the_docs_have_examples_to_run() -> None:
    counts = {page_id(page): len(python_blocks(page)) for page in PAGES}
    assert counts["docs/testing.md"] >= 8, counts
    assert counts["README.md"] >= 1, counts
    for page in PAGES:
        for block in python_blocks(page):
            if block.directive is not None:
                assert block.directive in ("skip", "requires"), f"{block.where}: {block.directive}"
            if block.title is None and runnable(block):
                # Executed as a script, a test function would be defined and never called.
                assert not re.search(r"^(def test_|class Test)", block.code, re.MULTILINE), (
                    f'{block.where} defines tests: give it a title="test_....py" so pytest runs it'
                )


def _untitled(page: Path) -> list[Block]:
    return [b for b in python_blocks(page) if runnable(b) and b.title is None]


#: Runs a page's untitled blocks in order in one namespace, as a session would: each is compiled
#: under the page's name and padded to its line, so a traceback points at the page.
_SESSION = """
import json, sys
namespace = {"__name__": sys.argv[2]}
for line, code in json.load(open(sys.argv[1])):
    exec(compile("\\n" * line + code, sys.argv[3], "exec"), namespace)
"""


@pytest.mark.parametrize("page", [p for p in PAGES if _untitled(p)], ids=page_id)
def test_the_untitled_examples_of_a_page_run_in_order(page: Path, tmp_path: Path) -> None:
    """In a process of its own, as a reader's session is: what one page's examples set up
    (servers, clients, module state) never reaches another test."""
    blocks = _untitled(page)
    for block in blocks:
        reason = missing_requirement(block)
        if reason:
            pytest.skip(reason)
    (tmp_path / "blocks.json").write_text(json.dumps([[b.line, b.code] for b in blocks]))
    name = f"docs_{page.stem.replace('-', '_')}"
    done = subprocess.run(
        [sys.executable, "-c", _SESSION, "blocks.json", name, str(page)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _test_modules() -> list[Block]:
    return [b for page in PAGES for b in python_blocks(page) if runnable(b) and b.is_test_module]


def run_pytest_on(
    block: Block,
    directory: Path,
    *,
    replace: dict[str, str] | None = None,
    conftest: str | None = None,
) -> str:
    """Write ``block`` and its page's other titled modules into ``directory``; run pytest there.

    ``replace`` edits module sources first (``{"old": "new"}``, applied to every module);
    ``conftest`` is written as the directory's ``conftest.py``.
    """
    if conftest is not None:
        (directory / "conftest.py").write_text(textwrap.dedent(conftest))
    for other in python_blocks(block.page):
        if other.title is not None and runnable(other) and not other.is_test_module:
            source = other.code
            for old, new in (replace or {}).items():
                source = source.replace(old, new)
            (directory / other.title).write_text(source)
    (directory / block.title).write_text(block.code)  # type: ignore[operator]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", block.title],  # type: ignore[list-item]
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.stdout + done.stderr


@pytest.mark.parametrize("block", _test_modules(), ids=lambda b: f"{page_id(b.page)}:{b.title}")
def test_a_test_module_in_the_docs_passes_in_a_project_of_its_own(
    block: Block, tmp_path: Path
) -> None:
    reason = missing_requirement(block)
    if reason:
        pytest.skip(reason)
    output = run_pytest_on(block, tmp_path)
    summary = output.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed in [\d.]+s(?: \(.*\))?", summary), output


def stateful_shop_example() -> Block:
    [block] = [b for b in python_blocks(ROOT / "docs" / "testing.md") if b.title == "test_shop.py"]
    return block


def test_the_stateful_checkout_example_is_complete_and_under_fifty_lines() -> None:
    """The acceptance criterion of the testing kit: a passing stateful test of one's own checkout
    in under fifty lines, with nothing but the docs in hand (it runs above, as it is written)."""
    block = stateful_shop_example()
    lines = block.code.rstrip("\n").splitlines()
    assert len(lines) < 50, f"{len(lines)} lines"
    assert "PaymentIntentMachine" in block.code
    assert "TestShop = ShopMachine.TestCase" in block.code


#: Loaded before the example's own settings(...), which inherit it: the same search every run, so
#: the check below cannot flake, and no "explain" phase, which only adds time.
REPEATABLE = """
    from hypothesis import Phase, settings

    settings.register_profile(
        "repeatable", derandomize=True, database=None, phases=[Phase.generate, Phase.shrink]
    )
    settings.load_profile("repeatable")
"""


def test_the_stateful_checkout_example_catches_a_shop_that_marks_orders_paid_too_early(
    tmp_path: Path,
) -> None:
    """The example is not a test that cannot fail: with the bug the page describes planted in the
    shop, it fails, with the shrunk program the page shows."""
    page = (ROOT / "docs" / "testing.md").read_text()
    bug = {'"payment_intent.succeeded"': '"payment_intent.requires_action"'}
    output = run_pytest_on(stateful_shop_example(), tmp_path, replace=bug, conftest=REPEATABLE)
    assert "1 failed" in output, output
    shown = re.search(r"the few steps that show it:\n\n```text\n(?P<steps>.*?)```", page, re.DOTALL)
    assert shown is not None
    for step in shown["steps"].splitlines():
        rule = re.sub(r"\(.*", "", step.split("=")[-1].strip())  # "state.confirm"
        assert rule in output, f"the page shows {step!r}; the run printed:\n{output}"


# -- pages a reader can read ---------------------------------------------------------------------

#: Pages other developers are rewriting; they join the checks below once they are rewrapped.
OWNED_ELSEWHERE: set[str] = set()
SITE_PAGES = [p for p in sorted((ROOT / "docs").glob("*.md")) if p.name not in OWNED_ELSEWHERE]

#: The content column holds about 84 characters of code at a laptop's width (1280 px, both
#: sidebars shown); tests/test_site_in_browser.py measures it in a browser.
CODE_COLUMNS = 80


def code_lines(page: Path) -> list[tuple[int, str]]:
    """Every line inside a fenced block of ``page``, with its line number."""
    lines, inside = [], False
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        if line.lstrip().startswith("```"):
            inside = not inside
        elif inside:
            lines.append((number, line))
    return lines


@pytest.mark.parametrize("page", SITE_PAGES, ids=page_id)
def test_a_code_block_is_no_wider_than_the_content_column(page: Path) -> None:
    wide = [f"{n}: {len(line)}" for n, line in code_lines(page) if len(line) > CODE_COLUMNS]
    assert wide == [], f"{page_id(page)} has lines over {CODE_COLUMNS} columns"


@pytest.mark.parametrize("page", SITE_PAGES, ids=page_id)
def test_a_page_speaks_of_nothing_a_user_does_not_have(page: Path) -> None:
    """No internal documents (the contract, its seed documents, the issue tracker), and no
    package index entry that does not exist yet."""
    text = page.read_text()
    internal = (
        r"\bSPEC\b",
        r"\bseed(?:'s| APIs?| curl| objects?| documents?)|\bthe seeds\b",
        r"\bthe issue'?s?\b",
        r"\bMISSED\b",
    )
    for word in internal:
        assert not re.search(word, text), f"{page_id(page)} says {word}"
    # A name alone would ask the package index; a direct reference (``name @ url``) does not.
    assert not re.search(r"pip install \"?payment_intent\b(?![^\"\n]*@)", text), (
        "payment_intent is not on PyPI: install from a checkout or a wheel"
    )


def _plot_module() -> Any:
    spec = importlib.util.spec_from_file_location("plot", ROOT / "tests/benchmarks/plot.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_tables_are_the_ones_drawn_from_the_committed_results() -> None:
    """One run's JSON feeds the charts and the tables; the page cannot show figures from two."""
    plot = _plot_module()
    folder = ROOT / "docs" / "benchmarks"
    report = json.loads((folder / "results.json").read_text())
    assert (folder / "checkouts.md").read_text() == plot.checkouts_table(report)
    assert (folder / "targets.md").read_text() == plot.targets_table(report)
    assert (folder / "pages.md").read_text() == plot.pages_table(report)
    page = (ROOT / "docs" / "benchmarks.md").read_text()
    for included in ("checkouts.md", "targets.md", "pages.md"):
        assert f'--8<-- "benchmarks/{included}"' in page
    for chart in ("checkouts.svg", "pages.svg"):
        assert (folder / chart).exists()
        assert f"](benchmarks/{chart})" in page


def test_a_target_is_met_or_not_met_in_the_tables() -> None:
    plot = _plot_module()
    report = json.loads((ROOT / "docs" / "benchmarks" / "results.json").read_text())
    rows = plot.targets_table(report).splitlines()[2:]
    assert len(rows) >= 8
    assert all(row.endswith(("| met |", "| **not met** |")) for row in rows), rows
