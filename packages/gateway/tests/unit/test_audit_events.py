"""The gateway's audit events (read from `gateway_audit_outbox`): one `completion.create` per
completion that reached the backends (success or error), one `completion.denied` per refusal of
its own (allow-list 403, rate limit 429, invalid key 401), NOTHING for a budget refusal (402:
budgets records `reservation.denied` for that request), route writes, no secret anywhere."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import httpx
import pytest

from gateway_fixtures import ORG, SERVICE_TOKEN, World  # isort: skip

pytestmark = pytest.mark.audit

MESSAGES = [{"role": "user", "content": "one two three"}]
PROMPT = 9
IN, OUT = 1_000_000, 2_000_000


def events(world: World) -> list[dict[str, Any]]:
    with world.app.state.db.session() as s:
        found: list[dict[str, Any]] = world.app.state.audit_outbox.events(s)
    return found


def for_request(world: World, request_id: str) -> list[dict[str, Any]]:
    return [e for e in events(world) if e["request_id"] == request_id]


def recorded(world: World, request_id: str, count: int = 1) -> list[dict[str, Any]]:
    """The request's events; a completion's is recorded just after its answer went out, so
    poll (with a deadline) until `count` are there."""
    deadline = time.monotonic() + 10
    while len(found := for_request(world, request_id)) < count:
        assert time.monotonic() < deadline, f"no audit event for {request_id}: {events(world)}"
        time.sleep(0.01)
    return found


def chat(world: World, secret: str, **body: Any) -> tuple[httpx.Response, str]:
    request_id = f"req_{secrets.token_hex(8)}"
    payload = {"model": "m", "messages": MESSAGES, **body}
    with world.http(secret) as http:
        response = http.post(
            "/v1/chat/completions", json=payload, headers={"X-Request-ID": request_id}
        )
    return response, request_id


def test_a_completion_records_one_success_event(world: World) -> None:
    world.route("m", ["sim-fail-503", "sim-echo"], inp=IN, out=OUT)
    response, rid = chat(world, world.key(), max_tokens=4)
    assert response.status_code == 200
    [e] = recorded(world, rid)
    assert e["action"] == "completion.create"
    assert e["outcome"] == "success"
    assert e["actor"] == {"type": "api_key", "id": "key_unit"}
    assert e["org_id"] == ORG
    assert e["target"] == {"type": "model", "id": "m"}
    usage = response.json()["usage"]
    d = e["details"]
    assert d["model"] == "m"
    assert d["backend"] == world.backend
    assert d["upstream_model"] == "sim-echo"
    assert d["prompt_tokens"] == usage["prompt_tokens"]
    assert d["completion_tokens"] == usage["completion_tokens"]
    assert d["cost_micro_usd"] == world.budgets.reservations.committed[0][1]
    assert d["reserved_micro_usd"] == world.budgets.reservations.created[0]["amount"]
    assert d["overrun_micro_usd"] == 0
    assert d["attempts"] == 2
    assert [a["model"] for a in d["failed_attempts"]] == ["sim-fail-503"]
    assert d["stream"] is False


def test_a_streamed_completion_records_its_cost(world: World) -> None:
    world.route("m", "sim-echo", inp=IN, out=OUT)
    response, rid = chat(world, world.key(), max_tokens=3, stream=True)
    assert response.status_code == 200
    [e] = recorded(world, rid)
    assert e["action"] == "completion.create"
    assert e["outcome"] == "success"
    assert e["details"]["stream"] is True
    assert e["details"]["cost_micro_usd"] == world.budgets.reservations.committed[0][1]


@pytest.mark.parametrize("stream", [False, True])
def test_a_backend_charging_past_the_reservation_is_charged_and_the_overrun_recorded(
    world: World, stream: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """Decision 10: `sim-greedy` reports twice the completion tokens it was allowed (a backend
    ignoring max_tokens). Refusing to pay is impossible after the fact: budgets is charged the
    actual cost, and the event and a warning say by how much it passed the reservation."""
    world.route("m", "sim-greedy", inp=IN, out=OUT)
    options = {"stream_options": {"include_usage": True}} if stream else {}
    response, rid = chat(world, world.key(), max_tokens=500, stream=stream, **options)
    assert response.status_code == 200
    [e] = recorded(world, rid)
    d = e["details"]
    reserved = world.budgets.reservations.created[0]["amount"]
    actual = PROMPT * 1 + 1000 * 2
    assert world.budgets.reservations.committed == [("res_1", actual)]
    assert (d["cost_micro_usd"], d["reserved_micro_usd"]) == (actual, reserved)
    assert d["overrun_micro_usd"] == actual - reserved > 0
    assert e["outcome"] == "success"
    assert f"exceeds its reservation of {reserved} by {actual - reserved}" in caplog.text


@pytest.mark.parametrize("stream", [False, True])
def test_all_backends_failing_records_one_error_event(world: World, stream: bool) -> None:
    world.route("m", ["sim-fail-503", "sim-fail-503"])
    response, rid = chat(world, world.key(), max_tokens=2, stream=stream)
    assert response.status_code == 502
    [e] = recorded(world, rid)
    assert e["action"] == "completion.create"
    assert e["outcome"] == "error"
    assert e["reason"] == response.json()["error"]["message"]
    assert [a["model"] for a in e["details"]["attempts"]] == ["sim-fail-503", "sim-fail-503"]
    assert e["details"]["cost_micro_usd"] == 0


def test_model_not_allowed_is_one_denied_event(world: World) -> None:
    world.route("m", "sim-echo")
    response, rid = chat(world, world.key(models=["other"]), max_tokens=1)
    assert response.status_code == 403
    [e] = recorded(world, rid)
    assert (e["action"], e["outcome"]) == ("completion.denied", "denied")
    assert e["actor"] == {"type": "api_key", "id": "key_unit"}
    assert e["org_id"] == ORG
    assert e["reason"] == response.json()["error"]["message"]
    assert e["details"]["status"] == 403
    assert e["details"]["allowed_models"] == ["other"]


def test_rate_limit_is_one_denied_event(world: World) -> None:
    world.route("m", "sim-echo")
    secret = world.key(rpm=1)
    assert chat(world, secret, max_tokens=1)[0].status_code == 200
    response, rid = chat(world, secret, max_tokens=1)
    assert response.status_code == 429
    [e] = recorded(world, rid)
    assert (e["action"], e["outcome"]) == ("completion.denied", "denied")
    assert e["details"]["status"] == 429
    assert e["details"]["rate_limit_rpm"] == 1


def test_an_invalid_key_is_one_denied_event_without_an_org(world: World) -> None:
    response, rid = chat(world, "gwk_not_a_real_key_secret", max_tokens=1)
    assert response.status_code == 401
    [e] = recorded(world, rid)
    assert (e["action"], e["outcome"]) == ("completion.denied", "denied")
    assert e["org_id"] is None
    assert e["actor"] == {"type": "anonymous", "id": None}
    assert "gwk_not_a_real_key_secret" not in json.dumps(e)


def test_a_budget_denial_records_nothing_here(world: World) -> None:
    world.route("m", "sim-echo", inp=IN, out=OUT)
    world.budgets.reservations.limit = 5
    response, rid = chat(world, world.key(), max_tokens=5)
    assert response.status_code == 402
    # A later request's event proves the gateway is done with this one.
    world.budgets.reservations.limit = None
    _, later = chat(world, world.key(), max_tokens=1)
    recorded(world, later)
    assert for_request(world, rid) == []  # budgets' reservation.denied is that request's event


def test_no_secret_in_any_event(world: World) -> None:
    world.route("m", "sim-echo")
    secret = world.key("gwk_very_secret_value")
    _, rid = chat(world, secret, max_tokens=1)
    recorded(world, rid)
    chat(world, "gwk_another_secret_guess", max_tokens=1)
    dumped = json.dumps(events(world))
    for value in ("gwk_very_secret_value", "gwk_another_secret_guess", SERVICE_TOKEN):
        assert value not in dumped
