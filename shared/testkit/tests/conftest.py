"""Test setup for gatewright-testkit: `pytester` for plugin tests, a fake clock for polling."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gatewright.testkit import redact

pytest_plugins = ["pytester"]


class FakeClock:
    """A clock that only moves when `sleep` is called (plus an optional cost per probe)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """Each test starts with the process-wide secret registry as it found it."""
    before = redact.registered_secrets()
    yield
    redact.clear_secrets()
    for secret in before:
        redact.register_secret(secret)
