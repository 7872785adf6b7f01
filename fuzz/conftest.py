"""The fuzz stage's pytest wiring: the stack, the seed, the bounds, the world.

The services run on a local stack started by testkit (real processes on loopback ports, real
storage), or on the deployment a target file names, exactly as for e2e (`require_stack`).
Options and bounds are in `bounds`; the credentials and resources every test shares in `world`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from gatewright.testkit import Target, require_stack
from gatewright.testkit.plugin import run_seed

from .bounds import (
    DEFAULT_BUDGET_SECONDS,
    DEFAULT_EXAMPLES,
    Budget,
    hypothesis_seed_of,
    register_profiles,
)
from .world import SERVICES, World, provision


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fuzz", "Gatewright fuzz stage")
    group.addoption(
        "--fuzz-examples",
        type=int,
        default=DEFAULT_EXAMPLES,
        help=f"generated examples per operation (default {DEFAULT_EXAMPLES})",
    )
    group.addoption(
        "--fuzz-budget",
        type=float,
        default=DEFAULT_BUDGET_SECONDS,
        help="seconds for the whole stage; what is left when they are spent is skipped "
        f"(default {DEFAULT_BUDGET_SECONDS:g})",
    )


def pytest_configure(config: pytest.Config) -> None:
    require_stack(config, services=SERVICES)
    register_profiles(int(config.getoption("fuzz_examples")))
    # Runs after testkit's (tryfirst) hook has fixed the run seed, and before Hypothesis'
    # plugin reads its option.
    if config.getoption("hypothesis_seed", None) is None:
        config.option.hypothesis_seed = str(hypothesis_seed_of(run_seed(config)))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Schemathesis first: it is the stage's main check, so a budget spent on a busy machine
    skips some of the properties rather than it (the sort is stable: each file keeps its order)."""
    items.sort(key=lambda item: item.path.name != "test_openapi.py")


def pytest_report_header(config: pytest.Config) -> list[str]:
    seed = config.getoption("hypothesis_seed")
    return [
        f"fuzz: hypothesis seed {seed} (reproduce with --hypothesis-seed={seed}), "
        f"{config.getoption('fuzz_examples')} examples per operation, "
        f"budget {config.getoption('fuzz_budget'):g} s"
    ]


@pytest.fixture(scope="session")
def fuzz_budget(request: pytest.FixtureRequest) -> Budget:
    return Budget(float(request.config.getoption("fuzz_budget")), time.monotonic())


@pytest.fixture(scope="session")
def fuzz_seed(request: pytest.FixtureRequest) -> int:
    return int(request.config.getoption("hypothesis_seed"))


@pytest.fixture(scope="session")
def fuzz_examples(request: pytest.FixtureRequest) -> int:
    return int(request.config.getoption("fuzz_examples"))


@pytest.fixture(scope="session")
def world(gw_target: Target, fuzz_seed: int) -> Iterator[World]:
    """The credentials and the orgs, keys, routes and reservation the tests share; removed at
    the end (what fuzzing itself created stays: point the stage at a disposable target)."""
    created = provision(gw_target, f"fuzz-{fuzz_seed:016x}"[:14])
    yield created
    created.remove()
