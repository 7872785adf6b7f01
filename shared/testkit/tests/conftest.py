"""Test setup for gatewright-testkit: `pytester` for the plugin tests, a clean secret registry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gatewright.testkit import redact

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """Each test starts with the process-wide secret registry as it found it."""
    before = redact.registered_secrets()
    yield
    redact.clear_secrets()
    for secret in before:
        redact.register_secret(secret)
