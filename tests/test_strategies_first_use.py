"""Every strategy of the kit passes Hypothesis' default health checks the first time it is drawn
in a fresh directory, as on every CI runner: no ``.hypothesis/`` folder, nothing cached.

Each check writes a one-test pytest file into a new temporary directory and runs it there in a
process of its own, with Hypothesis' default settings. The test draws the strategy the way a user's
rules and composite strategies do: not in the first, simplest example, which Hypothesis leaves out
of its health checks, but in the examples after it, so that whatever the first draw costs counts
against the health check's one-second budget for input generation.

The process imports the kit from a ``site-packages`` directory, as a user who installed it does.
On first use Hypothesis also reads the literals of the project's own modules (those outside
``site-packages``), to try them as inputs; in this repository the kit is such a module, in a user's
project it is not, and that reading is no cost of the kit's strategies.
"""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis.strategies import SearchStrategy

from payment_intent.testing import strategies

PROFILES = ("casapay", "payrex")

#: How each public strategy is drawn: ``{profile}`` is filled in once per profile.
DRAWN = {
    "create_params": "strategies.create_params({profile!r})",
    "currency_codes": "strategies.currency_codes({profile!r})",
    "amounts": "strategies.amounts({profile!r}, {currency!r})",
    "metadata": "strategies.metadata()",
    "metadata_keys": "strategies.metadata_keys",
    "payment_method_ids": "strategies.payment_method_ids({profile!r})",
    "declined_payment_method_ids": "strategies.declined_payment_method_ids({profile!r})",
    "invalid_create_params": "strategies.invalid_create_params({profile!r})",
    "invalid_update_params": "strategies.invalid_update_params({profile!r})",
    "invalid_confirm_params": "strategies.invalid_confirm_params({profile!r})",
    "invalid_capture_params": "strategies.invalid_capture_params({profile!r})",
    "invalid_cancel_params": "strategies.invalid_cancel_params({profile!r})",
    "invalid_list_params": "strategies.invalid_list_params({profile!r})",
    "invalid_intent_ids": "strategies.invalid_intent_ids()",
    "unknown_parameter_names": "strategies.unknown_parameter_names",
    "checkout_sequences": "strategies.checkout_sequences({profile!r})",
    "flexible_acquiring_options": "strategies.flexible_acquiring_options('casapay')",
    "refund_reasons": "strategies.refund_reasons({profile!r})",
    "capture_params": "strategies.capture_params({profile!r}, 5_000, multicapture=True)",
    "increment_params": "strategies.increment_params('casapay', 'eur', 5_000)",
    "refund_params": "strategies.refund_params({profile!r}, 5_000)",
    "invalid_refund_params": "strategies.invalid_refund_params({profile!r})",
    "invalid_increment_params": "strategies.invalid_increment_params('casapay')",
}
CURRENCY = {"casapay": "eur", "payrex": "php"}

FIRST_USE_TEST = """\
from hypothesis import given
from hypothesis import strategies as st

from payment_intent.testing import strategies

assert "/site-packages/" in strategies.__file__, strategies.__file__

{setup}


@given(st.data())
def test_first_use(data):
    # The first, simplest example draws False and is not health-checked; it leaves nothing new
    # to try on that side, so every example after it draws the strategy.
    if data.draw(st.booleans()):
        data.draw({drawn})
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``site-packages`` directory holding this checkout's ``payment_intent``."""
    site_packages = tmp_path_factory.mktemp("installed") / "site-packages"
    package = Path(strategies.__file__).resolve().parents[1]
    shutil.copytree(package, site_packages / package.name, ignore=IGNORED)
    return site_packages


IGNORED = shutil.ignore_patterns("__pycache__")

#: The variables by which CI runners announce themselves (Hypothesis's documented list).
CI_VARIABLES = frozenset(
    {
        "CI",
        "TF_BUILD",
        "BUILDKITE",
        "CIRCLECI",
        "CIRRUS_CI",
        "CODEBUILD_BUILD_ID",
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "HEROKU_TEST_RUN_ID",
        "TEAMCITY_VERSION",
        "bamboo.buildKey",
    }
)


def run_first_use(
    drawn: str, directory: Path, installed: Path, setup: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run pytest on a file that draws ``drawn`` (an expression), in ``directory``, alone."""
    source = FIRST_USE_TEST.format(drawn=drawn, setup=textwrap.dedent(setup).strip())
    (directory / "test_first_use.py").write_text(source)
    # Hypothesis switches to its "ci" profile, which suppresses the slow-generation check, when
    # it sees a CI runner's variables: the check here is of the default health checks.
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("HYPOTHESIS") and k not in CI_VARIABLES
    }
    environment["PYTHONPATH"] = str(installed)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_first_use.py"],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def public_strategies() -> set[str]:
    """Every name the strategies module offers that is a strategy or returns one."""
    return {
        name
        for name, value in vars(strategies).items()
        if not name.startswith("_")
        and (
            isinstance(value, SearchStrategy)
            or (inspect.isfunction(value) and value.__module__ == strategies.__name__)
        )
    }


def drawn_expressions() -> list[str]:
    expressions = []
    for template in DRAWN.values():
        for profile in PROFILES if "{profile" in template else PROFILES[:1]:
            expressions.append(template.format(profile=profile, currency=CURRENCY[profile]))
    return expressions


def test_every_public_strategy_is_checked_on_first_use() -> None:
    assert public_strategies() == set(DRAWN)


@pytest.mark.parametrize("drawn", drawn_expressions())
def test_a_strategy_passes_the_default_health_checks_on_first_use_in_a_fresh_directory(
    drawn: str, tmp_path: Path, installed: Path
) -> None:
    done = run_first_use(drawn, tmp_path, installed)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_first_use_check_fails_a_strategy_that_builds_a_table_on_its_first_draw(
    tmp_path: Path, installed: Path
) -> None:
    """The check is not one that cannot fail: a strategy whose first draw takes a second and a
    half, as ``st.from_regex`` does while Hypothesis builds its Unicode tables, fails it."""
    planted = """
        import time

        built = []


        def table_built_on_first_use(value):
            if not built:
                time.sleep(1.5)
                built.append(True)
            return value
    """
    done = run_first_use(
        "st.integers().map(table_built_on_first_use)", tmp_path, installed, planted
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FailedHealthCheck" in done.stdout
    assert "Input generation is slow" in done.stdout
