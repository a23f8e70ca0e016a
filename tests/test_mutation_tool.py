"""The mutation runner (tests/mutation/run.py) finds what a weak suite misses, and its mutants
reach the rules that are data as well as the code."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "mutation"))
import run
from mutants import mutants_of

ROOT = Path(__file__).resolve().parents[1]
LIFECYCLE = ROOT / "payment_intent/domain/lifecycle.py"

TOY_RULE = """\
LIMIT = 10


def allowed(amount):
    return amount <= LIMIT
"""
WEAK_TEST = """\
from toy.rules import allowed


def test_a_small_amount_is_allowed():
    assert allowed(3)
"""
BOUNDARY_TEST = """\
from toy.rules import allowed


def test_the_limit_itself_is_allowed_and_one_more_is_not():
    assert allowed(10)
    assert not allowed(11)
"""


def test_every_mutant_of_the_domain_still_parses() -> None:
    for module in sorted(LIFECYCLE.parent.glob("*.py")):
        source = module.read_bytes()
        for mutant in mutants_of(module, ROOT):
            ast.parse(mutant.apply(source))


def test_the_transition_table_is_mutated_as_data() -> None:
    mutations = {m.description for m in mutants_of(LIFECYCLE, ROOT)}
    # a destination swapped, a source dropped, a row dropped, a verb changed
    assert "status swapped: SUCCEEDED -> CANCELED" in mutations
    assert "member dropped: (REQUIRES_ACTION,) -> ()" in mutations
    assert any(d.startswith("member dropped: Transition(EXPIRE, ") for d in mutations)
    assert "name: \"captured\" -> 'captured_x'" in mutations


def test_a_mutant_keeps_its_id_when_lines_are_added_above_it(tmp_path: Path) -> None:
    module = tmp_path / "rules.py"
    module.write_text(TOY_RULE)
    before = {m.description: m.id for m in mutants_of(module, tmp_path)}
    module.write_text("# a comment, and the rule moves down a line\n" + TOY_RULE)
    after = {m.description: m.id for m in mutants_of(module, tmp_path)}
    assert after == before


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    """A package of one rule, with an off-by-one in its limit that a weak test cannot see."""
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy/__init__.py").write_text("")
    (tmp_path / "toy/rules.py").write_text(TOY_RULE)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests/test_weak.py").write_text(WEAK_TEST)
    (tmp_path / "tests/test_boundary.py").write_text(BOUNDARY_TEST)
    return tmp_path


def score(toy: Path, tests: str, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    results = toy / "results.json"
    arguments = ["--root", str(toy), "--package", "toy", "--fast", tests, "--slow", ""]
    run.main([*arguments, "-j", "1", "--timeout", "120", "--results", str(results)])
    capsys.readouterr()
    return {
        entry["mutation"]: entry["status"] for entry in json.loads(results.read_text()).values()
    }


def test_the_runner_reports_the_mutants_a_weak_suite_lets_through(
    toy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weak = score(toy, "tests/test_weak.py", capsys)
    assert weak == {
        "integer: 10 -> 11": "survived",
        "integer: 10 -> 9": "survived",
        "comparison: amount <= LIMIT -> (amount < LIMIT)": "survived",
        "return None: return amount <= LIMIT -> return None": "killed",
    }


def test_the_runner_credits_the_test_that_pins_the_boundary(
    toy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    strong = score(toy, "tests/test_weak.py,tests/test_boundary.py", capsys)
    assert set(strong.values()) == {"killed"}
