"""``payment-intent serve`` (and gunicorn) as child processes of a test: started on a free port,
their banner read, stopped or killed."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from psycopg.conninfo import conninfo_to_dict

CLI = [sys.executable, "-m", "payment_intent"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def store_url(dsn: str) -> str:
    """A libpq key=value DSN (as the PostgreSQL fixtures give) as a postgresql:// URL."""
    from urllib.parse import quote

    parts = conninfo_to_dict(dsn)
    query = f"?options={quote(str(parts['options']))}" if "options" in parts else ""
    return (
        f"postgresql://{parts.get('user', 'postgres')}@{parts.get('host', '127.0.0.1')}:"
        f"{parts.get('port', 5432)}/{parts.get('dbname', 'postgres')}{query}"
    )


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str
    banner: list[str]

    @property
    def secret(self) -> str:
        for line in self.banner:
            if "signing secret:" in line:
                return line.rsplit(" ", 1)[1]
        raise AssertionError(f"no signing secret in {self.banner}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def serve(*flags: str, cwd: Path, env: dict[str, str] | None = None) -> Served:
    """Start ``payment-intent serve`` with ``flags`` and wait for its banner."""
    port = free_port()
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), *flags],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert process.stderr is not None
    lines: queue.Queue[str] = queue.Queue()
    # A thread reads stderr to its end, so the pipe never fills and the banner arrives whole.
    threading.Thread(target=_drain, args=(process.stderr, lines), daemon=True).start()
    banner: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        banner.append(line.rstrip("\n"))
        if any("test key:" in b for b in banner) and (
            "--forward-to" not in flags or any("signing secret" in b for b in banner)
        ):
            break
    found = re.search(r"on (http://\S+?)(/v1)? \(", banner[0]) if banner else None
    if found is None:
        process.kill()
        raise AssertionError(f"serve did not start: {banner}")
    return Served(process, found.group(1), banner)


def _drain(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
