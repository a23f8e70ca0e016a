"""Choosing a store by URL, in code (``PaymentIntents.from_url``) or by ``PAYMENT_INTENT_STORE``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from payment_intent import InMemoryStore, PaymentIntents, SQLiteStore, store_from_url
from payment_intent.errors import InvalidRequestError


def test_memory_url_gives_an_in_memory_store() -> None:
    assert isinstance(store_from_url("memory://"), InMemoryStore)


def test_sqlite_url_with_three_slashes_is_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = store_from_url("sqlite:///relative.db")
    assert isinstance(store, SQLiteStore)
    store.close()
    assert (tmp_path / "relative.db").exists()


def test_sqlite_url_with_four_slashes_is_absolute(tmp_path: Path) -> None:
    store = store_from_url(f"sqlite:///{tmp_path}/absolute%20name.db?busy_timeout=2.5")
    assert isinstance(store, SQLiteStore)
    assert store.path == tmp_path / "absolute name.db"
    assert store.busy_timeout == 2.5
    store.close()


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "mysql://localhost/db",
        "intents.db",
        "memory://somewhere",
        "sqlite://",
        "sqlite:///",
        "sqlite://host/file.db",
        "sqlite:///dir/",
        "sqlite:///file.db?journal=off",
        "sqlite:///file.db?busy_timeout=soon",
        "sqlite:///file.db?busy_timeout=-1",
        "postgresql://host/db?no_such_libpq_option=1",
    ],
)
def test_a_url_no_store_understands_is_refused_naming_store(url: str) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        store_from_url(url)
    assert (raised.value.code, raised.value.param) == ("parameter_invalid", "store")


def test_a_url_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(InvalidRequestError) as raised:
        store_from_url(42)  # type: ignore[arg-type]
    assert raised.value.param == "store"


def test_from_url_builds_the_service_over_that_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shop.db"
    service = PaymentIntents.from_url(url, profile="casapay")
    intent = service.create(amount=1000, currency="usd")
    service.store.close()
    reopened = PaymentIntents.from_url(url)
    assert reopened.retrieve(intent.id) == intent
    reopened.store.close()


def test_the_environment_names_the_default_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYMENT_INTENT_STORE", f"sqlite:///{tmp_path}/env.db")
    service = PaymentIntents()
    assert isinstance(service.store, SQLiteStore)
    assert service.store.path == tmp_path / "env.db"
    service.store.close()


def test_without_the_environment_variable_the_default_is_in_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PAYMENT_INTENT_STORE", raising=False)
    assert isinstance(PaymentIntents().store, InMemoryStore)


def test_a_bad_environment_url_is_refused_naming_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMENT_INTENT_STORE", "redis://localhost")
    with pytest.raises(InvalidRequestError) as raised:
        PaymentIntents()
    assert raised.value.param == "store"
    assert "PAYMENT_INTENT_STORE" in raised.value.message


def test_importing_the_package_does_not_import_psycopg() -> None:
    import subprocess

    code = "import sys, payment_intent; print('psycopg' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
