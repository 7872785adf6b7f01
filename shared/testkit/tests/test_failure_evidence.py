"""Every way a flow breaks prints its evidence: the failing step, request IDs, a response sample.

One inner pytest run (`broken_flows`: a subprocess, as a user would run it) holds a flow per way
of breaking: an HTTP error, a wrong body asserted in a later step, an `eventually` timeout, a
`consistently` violation, a service that dies mid-test, a failing fixture and a failing cleanup.
"""

from __future__ import annotations

import re

import pytest
from broken_flows import RUN_ID, SERVICE_TOKEN, run_broken_flows

RID = rf"{RUN_ID}-main-[0-9a-f]{{6}}-\d{{4}}"


def _sections(out: str) -> dict[str, str]:
    """pytest's failure blocks by title (`test_x`, `ERROR at setup of test_x`)."""
    parts = re.split(r"^_{3,} (.+?) _{3,}$", out, flags=re.MULTILINE)
    return {title: body for title, body in zip(parts[1::2], parts[2::2], strict=True)}


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Run the broken flows once; return each failure's `gatewright` section by test name."""
    out, _ = run_broken_flows(tmp_path_factory.mktemp("evidence"))
    assert "5 failed, 2 passed, 2 errors" in out, out
    found = {}
    for title, body in _sections(out).items():
        assert "- gatewright -" in body, body
        found[title.split()[-1]] = body.split("- gatewright -", 1)[1]
    assert SERVICE_TOKEN not in out
    return found


def _assert_evidence(section: str, step: str) -> None:
    assert f"failing step: {step}" in section, section
    assert re.search(rf"request {RID}", section), section
    assert re.search(r"^request IDs: ", section, re.MULTILINE), section
    assert re.search(r"^\s+response: \S", section, re.MULTILINE), section


def test_an_http_error_shows_the_500_of_its_step(evidence: dict[str, str]) -> None:
    section = evidence["test_http_error"]
    _assert_evidence(section, "When the admin exports the org  [error")
    assert "exchanges of this step:" in section
    assert "/v1/fail -> 500" in section
    assert "database on fire" in section


def test_a_wrong_body_in_a_later_step_shows_the_exchange_that_fetched_it(
    evidence: dict[str, str],
) -> None:
    section = evidence["test_wrong_body_in_a_later_step"]
    _assert_evidence(section, "Then the org is active  [failed")
    assert "exchanges of this step: none" in section
    assert "exchanges that led to it" in section
    assert re.search(r"\[When the admin creates an org\] POST \S+/v1/orgs -> 201", section)
    assert '"status": "pending"' in section or '"status":"pending"' in section


def test_an_eventually_timeout_shows_the_last_polls(evidence: dict[str, str]) -> None:
    section = evidence["test_eventually_times_out"]
    _assert_evidence(section, "Then the org becomes active  [failed")
    assert "timed out waiting for the org to be active: last saw status=pending" in section
    assert re.search(r"GET \S+/v1/orgs/\S+ -> 200", section)


def test_a_consistently_violation_fails_at_once_with_what_it_saw(
    evidence: dict[str, str],
) -> None:
    section = evidence["test_consistently_is_violated"]
    _assert_evidence(section, "Then nothing is spent while the org is idle  [failed")
    assert "expected no spend to hold for 30.0 s" in section
    assert "spent=12" in section
    took = re.search(r"idle  \[failed after (\d+) ms\]", section)
    assert took is not None
    assert int(took[1]) < 5000  # it stopped at the violation, not at the end of the window


def test_a_service_that_dies_shows_the_refused_call_and_what_came_before(
    evidence: dict[str, str],
) -> None:
    section = evidence["test_service_dies_mid_test"]
    _assert_evidence(section, "Then the org can still be read  [error")
    assert "error: ConnectError" in section or "error: no response" in section, section
    assert "exchanges that led to it" in section
    assert re.search(r"\[When the service is told to stop\] POST \S+/v1/die -> 200", section)
    assert "shutting down" in section


def test_a_failing_fixture_is_a_step_with_its_exchanges(evidence: dict[str, str]) -> None:
    section = evidence["test_failing_fixture"]
    _assert_evidence(section, "Setup fixture 'active_org'  [failed")
    assert "the new org is pending" in section
    assert re.search(r"POST \S+/v1/orgs -> 201", section)


def test_a_failing_cleanup_shows_the_refused_delete(evidence: dict[str, str]) -> None:
    section = evidence["test_failing_cleanup"]
    _assert_evidence(section, "Cleanup 2 action(s)  [error")
    assert re.search(r"DELETE \S+/v1/orgs/gwt-\S+-failing-cleanup\S+ -> 500", section)
    assert "locked by a running export" in section
