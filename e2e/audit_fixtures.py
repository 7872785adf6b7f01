"""Fixtures and probes for the audit flows: the audit log as services and the harness read it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gatewright.audit import Client as AuditClient
from gatewright.audit import Event
from gatewright.testkit import Harness, Outcome, eventually


@pytest.fixture
def service_audit(gw: Harness) -> AuditClient:
    """Audit as a Gatewright service (and the harness) reads it: every chain, by request ID."""
    token = gw.target.service_token
    assert token, "the target has no service token (GATEWRIGHT_SERVICE_TOKEN)"
    client = AuditClient(**gw.client_kwargs("audit", token=token))
    gw.cleanup.release("close the audit client", client.close)
    return client


def events_of(
    audit: AuditClient, request_id: str, *, until: Callable[[list[Event]], bool], what: str
) -> list[Event]:
    """The events of one request ID, once `until(events)` holds (delivery is asynchronous)."""

    def probe() -> Outcome[list[Event]]:
        events = audit.events.by_request_id(request_id).data
        if until(events):
            return Outcome.done(events)
        seen = ", ".join(f"{e.service}:{e.action}:{e.outcome}" for e in events) or "none"
        return Outcome.pending(f"events of {request_id}: {seen}")

    result: list[Event] = eventually(probe, description=what, profile="settle")
    return result


def denied(events: list[Event]) -> list[Event]:
    return [e for e in events if e.outcome == "denied"]
