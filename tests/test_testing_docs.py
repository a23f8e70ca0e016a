"""The testing kit's page is one a user can follow: it installs what exists, speaks the user's
words, and its examples fit a screen and a copy-paste (tests/test_docs.py runs them)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from tests.test_docs import (
    REPEATABLE,
    python_blocks,
    run_pytest_on,
    stateful_shop_example,
)

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "testing.md"
COLUMNS = 80
LINES = 50

_FENCE = re.compile(r"^```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^```", re.MULTILINE | re.DOTALL)


def code_blocks(text: str) -> list[tuple[str, str]]:
    """Every fenced block of a page: its language and its code."""
    return [(m["lang"], m["body"]) for m in _FENCE.finditer(text)]


def too_wide(text: str) -> list[str]:
    """The code lines of a page wider than :data:`COLUMNS`."""
    return [
        line for _, body in code_blocks(text) for line in body.splitlines() if len(line) > COLUMNS
    ]


def too_long(text: str) -> list[int]:
    """The lengths of the page's code blocks of :data:`LINES` lines or more."""
    lengths = [len(body.splitlines()) for _, body in code_blocks(text)]
    return [length for length in lengths if length >= LINES]


def test_the_page_s_code_fits_eighty_columns() -> None:
    assert too_wide(PAGE.read_text()) == []


def test_every_example_on_the_page_is_under_fifty_lines() -> None:
    assert too_long(PAGE.read_text()) == []


def test_the_width_and_length_checks_find_a_block_too_wide_and_too_long() -> None:
    wide = "x = " + "1 + " * 30 + "1"
    page = f"Text.\n\n```python\n{wide}\n```\n\n```sh\n" + "echo\n" * LINES + "```\n"
    assert too_wide(page) == [wide]
    assert too_long(page) == [LINES]


@pytest.mark.parametrize("words", [r"\bSPEC\b", r"\bsection \d", r"(?i)\bseeds?\b"])
def test_the_page_uses_no_word_a_user_does_not_have(words: str) -> None:
    assert re.findall(words, PAGE.read_text()) == []


def test_the_page_installs_the_testing_extra_from_the_repository() -> None:
    commands = "".join(body for lang, body in code_blocks(PAGE.read_text()) if lang == "sh")
    assert "[testing]" in commands
    assert "[test]" not in commands
    assert "git+" in commands
    assert ".whl[testing]" in commands


def test_the_testing_extra_brings_pytest_and_hypothesis_only() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    names = {re.split(r"[<>=\[ ]", requirement)[0] for requirement in extras["testing"]}
    assert names == {"pytest", "hypothesis"}
    assert "payment_intent[testing]" in extras["test"]


def double_submit_bug() -> dict[str, str]:
    """The page's diff of ``shop.py`` as ``{old: new}``: the bug the page says the example finds."""
    [diff] = [body for lang, body in code_blocks(PAGE.read_text()) if lang == "diff"]
    lines = diff.splitlines()
    old = "".join(line[1:] + "\n" for line in lines if line.startswith(" "))
    new = "".join(line[1:] + "\n" for line in lines)
    return {old: new}


def test_the_stateful_example_catches_a_double_submit_that_marks_a_paid_order_unpaid(
    tmp_path: Path,
) -> None:
    """The bug behind three of the shop's own steps (place an order, pay it, pay it again), which
    the page's settings and kit_rules are there to find."""
    [shop] = [b for b in python_blocks(PAGE) if b.title == "shop.py"]
    [(old, new)] = double_submit_bug().items()
    assert shop.code.count(old) == 1, "the page's diff does not apply to its shop.py"
    output = run_pytest_on(
        stateful_shop_example(), tmp_path, replace={old: new}, conftest=REPEATABLE
    )
    assert "1 failed" in output, output
    steps = [m[1] for m in re.finditer(r"state\.(\w+)\(", output)]
    # Paid twice: by the shop's own form both times, or once by the kit's confirm.
    assert "customer_pays" in steps, output
    assert steps.count("customer_pays") + steps.count("confirm") >= 2, output
