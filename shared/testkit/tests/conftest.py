"""Test setup for gatewright-testkit: `pytester` for the plugin tests, a clean secret registry,
and the browser test only where a browser was provided."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from gatewright.testkit import redact

pytest_plugins = ["pytester"]

# The browser test needs Playwright and a Chromium; `nox -s report_browser` provides both and
# says where the browser is. Everywhere else (e.g. `unit(testkit)`) it is not collected.
collect_ignore = [] if os.environ.get("GATEWRIGHT_CHROMIUM") else ["test_report_browser.py"]


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """Each test starts with the process-wide secret registry as it found it."""
    before = redact.registered_secrets()
    yield
    redact.clear_secrets()
    for secret in before:
        redact.register_secret(secret)
