"""stripe-node runs a whole checkout against the local CasaPay server.

The package comes from npm: CI installs it into a temporary folder and names its
``node_modules`` in ``STRIPE_NODE_MODULES``. Outside CI the test skips when node or the package is
missing; under ``CI=true`` a missing one fails the run, so CI cannot pass without it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from payment_intent import InMemoryStore, ManualClock
from tests.wire.conftest import SEED_KEY, make_api, serving

SCRIPT = Path(__file__).with_name("stripe_node_checkout.js")


def _node_and_modules() -> tuple[str, Path]:
    node = shutil.which("node")
    modules = os.environ.get("STRIPE_NODE_MODULES")
    problem = None
    if node is None:
        problem = "node is not installed"
    elif not modules or not (Path(modules) / "stripe").is_dir():
        problem = "STRIPE_NODE_MODULES does not name a node_modules folder holding stripe"
    if problem is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the stripe-node checkout, but {problem}.")
        pytest.skip(f"{problem} (.ci/run installs it with npm)")
    assert node is not None
    assert modules is not None
    return node, Path(modules)


def test_stripe_node_runs_a_full_checkout(store: InMemoryStore, clock: ManualClock) -> None:
    node, modules = _node_and_modules()
    with serving(lambda origin: make_api("casapay", store, clock, origin=origin)) as url:
        finished = subprocess.run(
            [node, str(SCRIPT), url, SEED_KEY],
            env={**os.environ, "NODE_PATH": str(modules)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert finished.returncode == 0, finished.stderr[-4000:]
    seen = json.loads(finished.stdout.strip().splitlines()[-1])
    assert seen["api_version"].endswith(".endive")
    assert (seen["intents"], seen["searched"]) == (6, 3)
