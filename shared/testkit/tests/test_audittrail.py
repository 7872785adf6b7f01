"""AuditTrail: the audit events of a test's requests, read from the audit service."""

from __future__ import annotations

import httpx
import respx

from gatewright.testkit.audittrail import AuditTrail, trail_lines
from gatewright.testkit.target import Target

AUDIT = "http://audit.test"


def event(
    seq: int, action: str, outcome: str = "success", reason: str = "", request_id: str = "rid-1"
) -> dict[str, object]:
    return {
        "request_id": request_id,
        "seq": seq,
        "service": "identity",
        "action": action,
        "outcome": outcome,
        "org_id": "org_1",
        "actor": {"type": "user", "id": "usr_1"},
        "reason": reason,
    }


def target(with_audit: bool = True) -> Target:
    services = {"identity": "http://identity.test"}
    if with_audit:
        services["audit"] = AUDIT
    return Target(services=services, service_token="svc-token-for-trail-tests")


@respx.mock
def test_fetches_the_events_of_many_request_ids_a_query_for_fifty() -> None:
    asked: list[list[str]] = []

    def respond(request: httpx.Request) -> httpx.Response:
        ids = request.url.params.get_list("request_id")
        asked.append(ids)
        return httpx.Response(
            200, json={"data": [event(1, "key.create")] if "rid-1" in ids else []}
        )

    route = respx.get(f"{AUDIT}/v1/events").mock(side_effect=respond)
    wanted = ["rid-1", *(f"rid-{n}" for n in range(2, 121)), "rid-1"]  # 120 IDs, one twice
    trail = AuditTrail(target()).fetch(wanted)
    assert isinstance(trail, dict)
    assert trail["rid-1"] == [event(1, "key.create")]
    assert set(trail) == set(wanted)
    assert all(trail[rid] == [] for rid in wanted[1:-1])
    assert [len(ids) for ids in asked] == [50, 50, 20]
    assert route.calls.last.request.headers["Authorization"] == "Bearer svc-token-for-trail-tests"


@respx.mock
def test_an_audit_taking_one_id_a_query_is_asked_one_at_a_time() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        ids = request.url.params.get_list("request_id")
        if len(ids) > 1:
            return httpx.Response(422, json={"error": {"code": "validation_failed"}})
        found = [event(1, "org.create", request_id=ids[0])] if ids == ["rid-2"] else []
        return httpx.Response(200, json={"data": found})

    route = respx.get(f"{AUDIT}/v1/events").mock(side_effect=respond)
    trail = AuditTrail(target()).fetch(["rid-1", "rid-2"])
    assert trail == {"rid-1": [], "rid-2": [event(1, "org.create", request_id="rid-2")]}
    assert route.call_count == 3  # the pair, then each


@respx.mock
def test_an_answer_at_the_page_limit_is_read_again_one_id_at_a_time() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        ids = request.url.params.get_list("request_id")
        if len(ids) > 1:  # a full page: there may be more
            return httpx.Response(200, json={"data": [event(n, "x") for n in range(500)]})
        return httpx.Response(200, json={"data": [event(9, "y", request_id=ids[0])]})

    respx.get(f"{AUDIT}/v1/events").mock(side_effect=respond)
    trail = AuditTrail(target()).fetch(["rid-1", "rid-2"])
    assert trail == {
        "rid-1": [event(9, "y", request_id="rid-1")],
        "rid-2": [event(9, "y", request_id="rid-2")],
    }


@respx.mock
def test_settling_waits_until_the_trail_stops_growing() -> None:
    answers = iter([[], [event(1, "org.create")], [event(1, "org.create"), event(2, "key.create")]])
    last: list[list[dict[str, object]]] = []

    def respond(request: httpx.Request) -> httpx.Response:
        data = next(answers, None)
        if data is not None:
            last[:] = [data]
        return httpx.Response(200, json={"data": last[0]})

    respx.get(f"{AUDIT}/v1/events").mock(side_effect=respond)
    trail = AuditTrail(target()).fetch(["rid-1"], settle=5.0)
    assert isinstance(trail, dict)
    assert [e["action"] for e in trail["rid-1"]] == ["org.create", "key.create"]


def test_no_audit_service_means_no_trail() -> None:
    assert AuditTrail(target(with_audit=False)).fetch(["rid-1"]) == {}
    assert AuditTrail(None).fetch(["rid-1"]) == {}


@respx.mock
def test_an_unreachable_audit_service_is_said_not_raised() -> None:
    respx.get(f"{AUDIT}/v1/events").mock(side_effect=httpx.ConnectError("refused"))
    trail = AuditTrail(target()).fetch(["rid-1"])
    assert isinstance(trail, str)
    assert "audit trail unavailable" in trail
    assert trail_lines(trail, ["rid-1"]) == [f"  {trail}"]


def test_lines_name_service_action_outcome_and_reason() -> None:
    trail = {"rid-1": [event(3, "authz.denied", "denied", "Role 'viewer' lacks 'keys:create'.")]}
    (line,) = trail_lines(trail, ["rid-1"])
    assert "rid-1" in line
    assert "identity: authz.denied denied" in line
    assert "seq=3" in line
    assert line.endswith("— Role 'viewer' lacks 'keys:create'.")
    assert trail_lines({}, ["rid-9"]) == ["  (no audit events for these request IDs)"]
