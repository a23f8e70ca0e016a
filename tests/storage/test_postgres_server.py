"""The PostgreSQL test server: without one, tests skip with a hint, except under CI=true."""

from __future__ import annotations

import postgres_server
import pytest


@pytest.fixture
def no_binaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres_server, "_binaries", lambda: None)


@pytest.mark.usefixtures("no_binaries")
def test_without_a_server_the_tests_skip_saying_how_to_enable_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y postgresql"):
        postgres_server.throwaway_cluster().__enter__()


@pytest.mark.usefixtures("no_binaries")
def test_under_ci_a_missing_server_fails_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Under CI=true"):
        postgres_server.throwaway_cluster().__enter__()
