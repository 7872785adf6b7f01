"""The stage's bounds and seed: examples per operation, the time budget, the Hypothesis seed.

- `--fuzz-examples N` (default `DEFAULT_EXAMPLES`): Schemathesis examples per operation (after
  its deterministic coverage cases) and examples of the one-request properties; the properties
  whose every example sends a request per operation take a tenth of it.
- `--fuzz-budget S` (default `DEFAULT_BUDGET_SECONDS`): once the stage has run that long, what
  is left is skipped, each with that reason (a bound, never a result); pytest-timeout still
  stops a single test that hangs.
- The Hypothesis seed is `--hypothesis-seed`, or else derived from testkit's run seed
  (`--gw-seed`), so one seed reproduces the whole stage; Schemathesis derives each operation's
  seed from it. Neither shrinks (a failure is reported as drawn): on live services shrinking
  costs minutes, and a strict xfail would pay them on every run.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, Phase, settings

DEFAULT_EXAMPLES = 50
DEFAULT_BUDGET_SECONDS = 180.0
PROPERTY_SHARE = 10  # examples of a property that sends every operation per example: N / 10


def hypothesis_seed_of(seed: str) -> int:
    """The Hypothesis seed a run seed stands for (stable across processes and machines)."""
    return int.from_bytes(hashlib.sha256(f"fuzz:{seed}".encode()).digest()[:8], "big")


def register_profiles(examples: int) -> None:
    """`fuzz` (loaded: the properties that send every operation per example) and `fuzz-values`
    (one request per example), both without shrinking, deadlines or an example database."""
    settings.register_profile(
        "fuzz",
        max_examples=max(2, examples // PROPERTY_SHARE),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
    )
    settings.register_profile("fuzz-values", settings.get_profile("fuzz"), max_examples=examples)
    settings.load_profile("fuzz")


@dataclass
class Budget:
    """The stage's time budget, started when the first test asks for it."""

    seconds: float
    started: float

    def check(self) -> None:
        """Skip what is left once the budget is spent."""
        if time.monotonic() - self.started > self.seconds:
            pytest.skip(f"the fuzz time budget ({self.seconds:g} s) is spent")
