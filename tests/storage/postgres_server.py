"""A throwaway PostgreSQL cluster for the test session, and a fresh schema for each test.

The session runs ``initdb`` and ``pg_ctl`` (from PATH or ``/usr/lib/postgresql/*/bin``) on a free
loopback port in a temporary directory, and removes it all afterwards. PostgreSQL refuses to run as
root, so under root the cluster runs as the ``postgres`` system user.

``PAYMENT_INTENT_TEST_POSTGRES=<dsn>`` uses an existing server instead. Without either, the tests
skip, except under ``CI=true``, where a missing server is a failure.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

HOW_TO_ENABLE = (
    "PostgreSQL tests need initdb and pg_ctl: install the server (Debian/Ubuntu: "
    "`apt-get install -y postgresql`), or point PAYMENT_INTENT_TEST_POSTGRES at a database "
    "(`postgresql://user@host/db`)."
)


def _missing(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} Under CI=true the PostgreSQL tests must run. {HOW_TO_ENABLE}")
    pytest.skip(f"{reason} {HOW_TO_ENABLE}")


def _binaries() -> Path | None:
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent

    def major(initdb: str) -> int:
        name = Path(initdb).parent.parent.name
        return int(name) if name.isdigit() else 0

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=major)
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_cluster_owner(command: list[str]) -> list[str]:
    """Run as ``postgres`` when we are root (initdb refuses root), as ourselves otherwise."""
    if os.geteuid() != 0:
        return command
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *command]
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(map(_quote, command))]


def _quote(word: str) -> str:
    return "'" + word.replace("'", "'\"'\"'") + "'"


def _locale() -> str:
    try:
        available = subprocess.run(
            ["locale", "-a"], capture_output=True, text=True, check=False
        ).stdout.split()
    except OSError:
        return "C"
    for name in ("en_US.utf8", "en_US.UTF-8", "C.utf8", "C.UTF-8"):
        if name in available:
            return name
    return "C"


def _initdb(binaries: Path, data: Path) -> None:
    """Create the cluster, with an English ICU collation as its default where PostgreSQL has ICU.

    Under a linguistic collation text does not sort by code point, so the tests prove that the
    store orders ids the way every other store does, whatever the database's locale.
    """
    command = [str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
    command += ["--encoding=UTF8", f"--locale={_locale()}", "--no-sync"]
    icu = ["--locale-provider=icu", "--icu-locale=en-US"]
    try:
        subprocess.run(_as_cluster_owner(command + icu), check=True, capture_output=True)
    except subprocess.CalledProcessError:  # PostgreSQL before 15, or built without ICU
        shutil.rmtree(data, ignore_errors=True)
        subprocess.run(_as_cluster_owner(command), check=True, capture_output=True)


@dataclass
class Cluster:
    """A running throwaway cluster: a DSN for its ``postgres`` database, and the controls an
    outage test needs."""

    binaries: Path
    data: Path
    log: Path
    options: str
    dsn: str

    def start(self) -> None:
        """Start the server (again) on the same port; returns once it accepts connections."""
        self._pg_ctl("-l", str(self.log), "-o", self.options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` ends every session, as an administrator's restart does."""
        self._pg_ctl("-m", mode, "-w", "stop")

    def _pg_ctl(self, *arguments: str) -> None:
        command = [str(self.binaries / "pg_ctl"), "-D", str(self.data), *arguments]
        subprocess.run(_as_cluster_owner(command), check=True, capture_output=True)


@contextlib.contextmanager
def throwaway_cluster(*, durable: bool = False) -> Iterator[str]:
    """Start a cluster, yield a DSN for its ``postgres`` database, stop and delete it.

    Tests run it without fsync (nothing in it must survive); ``durable=True`` keeps PostgreSQL's
    defaults, for the benchmark. Tuned memory stays at the defaults either way.
    """
    with restartable_cluster(durable=durable) as cluster:
        yield cluster.dsn


@contextlib.contextmanager
def restartable_cluster(*, durable: bool = False) -> Iterator[Cluster]:
    """A throwaway cluster that a test may stop and start again."""
    binaries = _binaries()
    if binaries is None:
        _missing("initdb/pg_ctl were not found.")
    if os.geteuid() == 0:
        try:
            import pwd

            owner = pwd.getpwnam("postgres")
        except KeyError:
            _missing("Running as root, and there is no `postgres` user to run the cluster as.")
    root = Path(tempfile.mkdtemp(prefix="payment-intent-pg-"))
    data, log = root / "data", root / "server.log"
    port = _free_port()
    try:
        if os.geteuid() == 0:
            os.chmod(root, 0o700)
            os.chown(root, owner.pw_uid, owner.pw_gid)
        _initdb(binaries, data)
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=300"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        cluster = Cluster(
            binaries, data, log, options, f"postgresql://postgres@127.0.0.1:{port}/postgres"
        )
        cluster.start()
        yield cluster
    except subprocess.CalledProcessError as error:
        detail = (error.stderr or b"").decode(errors="replace")
        if log.exists():
            detail += log.read_text(errors="replace")
        pytest.fail(f"Could not start a throwaway PostgreSQL cluster: {detail}")
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_cluster_owner(
                    [str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
                ),
                check=False,
                capture_output=True,
            )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A DSN for a database the tests may create schemas in."""
    given = os.environ.get("PAYMENT_INTENT_TEST_POSTGRES")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _missing("psycopg is not installed (`pip install -e '.[postgres]'`).")
    if given:
        yield given
        return
    with throwaway_cluster() as dsn:
        yield dsn


def fresh_schema(dsn: str) -> str:
    """Create an empty schema and return a DSN whose ``search_path`` points at it."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    name = f"test_{uuid.uuid4().hex[:16]}"
    deadline = time.monotonic() + 10
    while True:
        try:
            with psycopg.connect(dsn, autocommit=True) as connection:
                connection.execute(f'CREATE SCHEMA "{name}"')
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    return make_conninfo(dsn, options=f"-c search_path={name}")


@pytest.fixture
def postgres_dsn(postgres_server: str) -> str:
    """A DSN over a new, empty schema of the session's server."""
    return fresh_schema(postgres_server)
