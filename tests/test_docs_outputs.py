"""What the docs say a line prints is what it prints.

An example that shows its output does it with comment lines right under a ``print(...)``::

    print(refused.value.message)
    # This PaymentIntent could not be canceled because it has a status of succeeded. ...

Such comments drifted from the code before (the docs promised "canceled" while the code said
"cancel"); here every one is compared with what its line prints, wrapped lines joined.
"""

from __future__ import annotations

import ast
import contextlib
import io
from pathlib import Path

import pytest

from tests.test_docs import PAGES, Block, missing_requirement, page_id, python_blocks, runnable


def _shown_outputs(block: Block) -> dict[int, str]:
    """For each top-level ``print(...)`` followed by comment lines: its line, and the comment."""
    lines = block.code.splitlines()
    shown = {}
    for node in ast.parse(block.code).body:
        call = node.value if isinstance(node, ast.Expr) else None
        if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "print"):
            continue
        assert node.end_lineno is not None
        comment = []
        for line in lines[node.end_lineno :]:
            if not line.lstrip().startswith("#"):
                break
            comment.append(line.lstrip()[1:].strip())
        if comment:
            shown[node.lineno] = " ".join(comment)
    return shown


def _pages_with_outputs() -> list[Path]:
    return [
        page
        for page in PAGES
        if any(_shown_outputs(b) for b in python_blocks(page) if runnable(b) and not b.title)
    ]


def test_the_docs_show_outputs_to_check() -> None:
    assert _pages_with_outputs(), "no example shows what it prints"


@pytest.mark.parametrize("page", _pages_with_outputs(), ids=page_id)
def test_a_printed_line_prints_what_the_page_shows(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    checked = 0
    for block in (b for b in python_blocks(page) if runnable(b) and b.title is None):
        reason = missing_requirement(block)
        if reason:
            pytest.skip(reason)
        shown = _shown_outputs(block)
        for node in ast.parse(block.code).body:
            code = compile(ast.Module([node], []), block.where, "exec")
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                exec(code, namespace)
            if node.lineno in shown:
                assert " ".join(printed.getvalue().split()) == shown[node.lineno], (
                    f"{block.where}, line {node.lineno} of the block"
                )
                checked += 1
    assert checked
