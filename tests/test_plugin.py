"""The pytest plugin, tested the way pytest plugins are: by running pytest on small test files."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from payment_intent import ManualClock, PaymentIntents, SimulatedProcessor, Status
from payment_intent.testing.plugin import START_TIME

pytest_plugins = ["pytester"]


def test_the_fixtures_give_a_service_over_the_manual_clock_and_simulated_processor(
    payment_intents: PaymentIntents,
    manual_clock: ManualClock,
    simulated_processor: SimulatedProcessor,
) -> None:
    assert payment_intents.clock is manual_clock
    assert payment_intents.processor is simulated_processor
    assert payment_intents.profile.name == "casapay"
    assert manual_clock.now() == START_TIME

    intent = payment_intents.create(
        amount=1500, currency="eur", payment_method="pm_card_visa", capture_method="manual"
    )
    held = payment_intents.confirm(intent.id)
    assert held.capture_before_at == START_TIME + 7 * 24 * 3600
    manual_clock.advance(7 * 24 * 3600)
    assert payment_intents.retrieve(intent.id).status is Status.CANCELED


@pytest.mark.parametrize("payment_intent_profile", ["payrex"])
def test_parametrizing_the_profile_fixture_switches_the_service_to_payrex(
    payment_intents: PaymentIntents,
) -> None:
    assert payment_intents.profile.name == "payrex"
    assert payment_intents.create(amount=2000, currency="PHP").currency == "php"


def test_the_factory_makes_independent_services(payment_intents_factory: object) -> None:
    assert callable(payment_intents_factory)
    first = payment_intents_factory()
    second = payment_intents_factory("payrex")
    first.create(amount=100, currency="eur")
    assert len(first.list()) == 1
    assert len(second.list()) == 0
    assert second.profile.name == "payrex"
    assert first.clock is not second.clock


USER_TEST = """
    import pytest

    def test_pays(payment_intents):
        intent = payment_intents.create(
            amount=2000, currency="eur", payment_method="pm_card_visa", confirm=True
        )
        assert intent.status == "succeeded"

    @pytest.mark.payment_intent_stores("memory", "sqlite")
    def test_pays_on_every_store(payment_intents, payment_intent_store, payment_intent_store_kind):
        expected = {"memory": "InMemoryStore", "sqlite": "SQLiteStore"}[payment_intent_store_kind]
        assert type(payment_intent_store).__name__ == expected
        assert payment_intents.store is payment_intent_store
        intent = payment_intents.create(
            amount=2000, currency="eur", payment_method="pm_card_visa", confirm=True
        )
        assert payment_intents.retrieve(intent.id).amount_received == 2000
"""


def test_the_marker_runs_a_test_once_per_store(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TEST)
    result = pytester.runpytest("-v", "-s", "--strict-markers")
    result.stdout.fnmatch_lines(
        [
            "*test_pays PASSED*",
            "*test_pays_on_every_store?memory? PASSED*",
            "*test_pays_on_every_store?sqlite? PASSED*",
        ]
    )
    result.assert_outcomes(passed=3)


def test_the_option_all_runs_every_test_once_per_store(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TEST)
    result = pytester.runpytest("-v", "--payment-intent-store=all")
    result.stdout.fnmatch_lines(
        ["*test_pays?memory? PASSED*", "*test_pays_on_every_store?memory?*"]
    )
    result.stdout.fnmatch_lines(
        ["*test_pays?sqlite? PASSED*", "*test_pays_on_every_store?sqlite?*"]
    )
    result.assert_outcomes(passed=4)


def test_the_option_sqlite_puts_every_test_on_sqlite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        def test_store(payment_intent_store):
            print("STORE", type(payment_intent_store).__name__)
        """
    )
    result = pytester.runpytest("-s", "--payment-intent-store=sqlite")
    result.stdout.fnmatch_lines(["*STORE SQLiteStore*"])
    result.assert_outcomes(passed=1)


def test_an_unknown_store_kind_in_the_marker_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        import pytest

        @pytest.mark.payment_intent_stores("redis")
        def test_x(payment_intents):
            pass
        """
    )
    result = pytester.runpytest()
    result.stdout.re_match_lines([r".*unknown store kind\(s\) \['redis'\].*"])
    assert result.ret != 0


def test_the_plugin_loads_and_serves_fixtures_without_hypothesis(tmp_path: Path) -> None:
    """A project with pytest but not Hypothesis still gets the fixtures (the entry point loads
    the plugin in every pytest run, so it must not need Hypothesis)."""
    (tmp_path / "test_no_hypothesis.py").write_text(
        textwrap.dedent(
            """
            import sys

            def test_fixtures_work(payment_intents, manual_clock):
                assert "hypothesis" not in sys.modules
                intent = payment_intents.create(amount=500, currency="usd")
                assert intent.created == manual_clock.now()
            """
        )
    )
    runner = textwrap.dedent(
        """
        import sys, pytest

        class NoHypothesis:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("hypothesis", "_hypothesis_pytestplugin"):
                    raise ImportError(f"{name} is not installed here")

        sys.meta_path.insert(0, NoHypothesis())
        # Hypothesis's own pytest plugin is switched off, as if Hypothesis were not installed.
        args = ["-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest"]
        sys.exit(pytest.main([*args, "test_no_hypothesis.py"]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", runner], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
