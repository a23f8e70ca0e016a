"""Every ``payment-intent`` command that the README and the docs print works when pasted.

The commands are those of the pages' shell blocks, read as a shell reads them: continued lines
joined, comments dropped, ``&&`` chains split, leading ``NAME=value`` words as the environment.
Each runs as printed, in a fresh directory, after the commands printed before it in its block;
the one word a person changes is ``pi_…``, where they put the id that the block's ``create``
printed. ``serve`` runs until stopped: it works when its first line says where it serves, and it
keeps running beside the commands printed after it in its block.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
BIN = Path(sys.executable).parent
PLACEHOLDER = "pi_…"


@dataclass(frozen=True)
class Printed:
    """One command a page prints: its words, the environment it sets, and where it is."""

    page: str
    block: int
    words: list[str]
    env: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.page}:{self.block}: {shlex.join(self.words)}"


def _commands_in(block: str) -> list[tuple[dict[str, str], list[str]]]:
    found = []
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        while words:
            end = words.index("&&") if "&&" in words else len(words)
            command, words = words[:end], words[end + 1 :]
            env = {}
            while command and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", command[0]):
                name, _, value = command.pop(0).partition("=")
                env[name] = value
            if command and Path(command[0]).name == "payment-intent":
                found.append((env, command))
    return found


def _printed() -> list[Printed]:
    printed = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        blocks = re.findall(r"^```(?:sh|bash|shell|console)\n(.*?)^```", text, re.M | re.S)
        for index, block in enumerate(blocks):
            for env, words in _commands_in(block):
                printed.append(Printed(str(page.relative_to(ROOT)), index, words, env))
    return printed


PRINTED = _printed()


def _environment(printed: Printed) -> dict[str, str]:
    """A user's shell: the installed console script on the PATH, no store or keys of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_INTENT_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **printed.env}


def _as_typed(printed: Printed, created: str | None) -> list[str]:
    """The printed words, the program found on the PATH as a shell finds it, and the id the
    block's create printed where the page wrote pi_…"""
    words = ["payment-intent", *printed.words[1:]]
    if PLACEHOLDER in words:
        assert created is not None, f"{printed}: no create before it prints an id"
        words = [created if word == PLACEHOLDER else word for word in words]
    return words


@contextmanager
def _serving(printed: Printed, cwd: Path) -> Iterator[None]:
    """``serve`` as printed, running until the block is done with it; it works when its first
    line says where it serves."""
    words = _as_typed(printed, None)
    port = int(words[words.index("--port") + 1]) if "--port" in words else 4242
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            pytest.skip(f"port {port} is taken on this machine; {printed} needs it")
    server = subprocess.Popen(
        words, cwd=cwd, env=_environment(printed), stderr=subprocess.PIPE, text=True
    )
    try:
        assert server.stderr is not None
        ready, _, _ = select.select([server.stderr], [], [], 30)
        said = server.stderr.readline() if ready else "(nothing in 30 seconds)"
        assert re.match(r"payment-intent serve: \w+ on http://", said), f"{printed}: {said}"
        assert server.poll() is None
        yield
    finally:
        server.terminate()
        server.wait(timeout=10)


def _runs(printed: Printed, created: str | None, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        _as_typed(printed, created),
        cwd=cwd,
        env=_environment(printed),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{printed}: {done.stderr or done.stdout}"
    assert done.stderr == "", f"{printed}: {done.stderr}"
    return done


@pytest.mark.parametrize("printed", PRINTED, ids=str)
def test_a_printed_command_works_as_pasted(printed: Printed, tmp_path: Path) -> None:
    """After the commands printed before it in its block; the last ``serve`` among them runs
    beside it, as in the other terminal a page tells the reader to use."""
    before = [p for p in PRINTED if (p.page, p.block) == (printed.page, printed.block)]
    created: str | None = None
    server: Printed | None = None
    for earlier in before[: before.index(printed)]:
        if earlier.words[1:2] == ["serve"]:
            server = earlier
            continue
        done = _runs(earlier, created, tmp_path)
        if earlier.words[1:2] == ["create"]:
            created = json.loads(done.stdout)["id"]
    if printed.words[1:2] == ["serve"]:
        with _serving(printed, tmp_path):
            return
    with _serving(server, tmp_path) if server is not None else contextlib.nullcontext():
        _runs(printed, created, tmp_path)


def test_the_pages_print_commands_of_every_kind() -> None:
    """The reading above finds what the pages hold: the demo, commands by hand, and serve."""
    kinds = {p.words[1] for p in PRINTED if len(p.words) > 1}
    assert {"demo", "create", "confirm", "capture", "serve", "trigger"} <= kinds
    assert any(p.env for p in PRINTED)
