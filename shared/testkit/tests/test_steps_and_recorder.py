"""Flow steps and the exchange recorder, with httpx mock transports (no network)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from gatewright.core import APIConnectionError, RetryPolicy, SyncAPIClient
from gatewright.testkit.recorder import NO_RESPONSE, ExchangeRecorder
from gatewright.testkit.redact import register_secret
from gatewright.testkit.steps import Flow


def test_steps_are_timed_nested_and_keep_failures() -> None:
    flow = Flow()
    with flow.given("an org"), flow.and_("a member"):
        pass
    with pytest.raises(AssertionError), flow.then("the member sees the org"):
        raise AssertionError("org missing")
    with pytest.raises(KeyError), flow.when("something breaks"):
        raise KeyError("x")
    labels = [(s.label, s.status, s.depth) for s in flow.steps]
    assert labels == [
        ("Given an org", "passed", 0),
        ("And a member", "passed", 1),
        ("Then the member sees the org", "failed", 0),
        ("When something breaks", "error", 0),
    ]
    assert all(s.elapsed_ms is not None and s.ended_at for s in flow.steps)
    assert flow.failed_step is flow.steps[3]
    assert "org missing" in (flow.steps[2].error or "")
    assert flow.current is None


def _handler(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content or b"{}")
    return httpx.Response(
        500,
        json={"error": {"code": "internal", "message": "boom", "echo": body}},
        headers={"X-Request-ID": request.headers["X-Request-ID"], "Set-Cookie": "sid=abc123"},
    )


def test_recorder_records_attempts_redacted_with_steps_and_curl() -> None:
    register_secret("hunter2-the-password")
    flow = Flow()
    recorder = ExchangeRecorder(step=flow)
    client = SyncAPIClient(
        "http://svc.test",
        token="tok-1234567890",
        event_hooks=recorder.sync_hooks(),
        request_id_factory=lambda: "rid-1",
        transport=httpx.MockTransport(_handler),
        retry=RetryPolicy(max_retries=1, initial_delay=0.001),
    )
    with pytest.raises(Exception, match="boom"), flow.when("the admin logs in"):
        client.request("POST", "/v1/auth/login", json={"password": "hunter2-the-password"})
    assert len(recorder.exchanges) == 2
    first, second = recorder.exchanges
    assert (first.attempt, second.attempt) == (1, 2)
    assert first.status == 500
    assert first.request_id == "rid-1"
    assert first.step == "When the admin logs in"
    assert first.step_index == 0
    assert first.request_headers["authorization"] == "Bearer ***"
    assert first.response_headers["set-cookie"] == "***"
    assert "boom" in first.response_body
    dumped = json.dumps(recorder.to_list())
    assert "hunter2" not in dumped
    assert "tok-1234567890" not in dumped
    assert first.curl.startswith("curl -sS -X POST http://svc.test/v1/auth/login ")
    assert "--data-raw" in first.curl
    assert "***" in first.curl
    assert first.elapsed_ms is not None
    assert recorder.request_ids == ["rid-1"]
    assert recorder.for_step(0) == recorder.exchanges


def test_connection_failure_is_recorded() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    flow = Flow()
    recorder = ExchangeRecorder(step=flow)
    client = SyncAPIClient(
        "http://down.test",
        event_hooks=recorder.sync_hooks(),
        transport=httpx.MockTransport(refuse),
        retry=RetryPolicy(max_retries=1, initial_delay=0.001),
    )
    with pytest.raises(APIConnectionError) as info, flow.when("calling a dead service"):
        client.request("GET", "/v1/x")
    recorder.note_exception(info.value)
    recorder.finish()
    first, second = recorder.exchanges
    assert first.status is None
    assert first.error == NO_RESPONSE
    assert second.status is None
    assert "ConnectError" in (second.error or "")
    assert "connection refused" in second.one_line()


def test_async_hooks() -> None:
    recorder = ExchangeRecorder()

    async def main() -> None:
        transport = httpx.MockTransport(lambda r: httpx.Response(200, json={"ok": True}))
        async with httpx.AsyncClient(
            transport=transport, event_hooks=recorder.async_hooks()
        ) as client:
            response = await client.get("http://svc.test/healthz")
            assert response.json() == {"ok": True}

    asyncio.run(main())
    (exchange,) = recorder.exchanges
    assert exchange.status == 200
    assert exchange.response_body == '{"ok": true}'
    assert exchange.step is None


def test_event_streams_are_not_read_by_the_hook() -> None:
    recorder = ExchangeRecorder()
    transport = httpx.MockTransport(
        lambda r: httpx.Response(
            200, content=b"data: 1\n\n", headers={"content-type": "text/event-stream"}
        )
    )
    with (
        httpx.Client(transport=transport, event_hooks=recorder.sync_hooks()) as client,
        client.stream("GET", "http://svc.test/v1/chat") as response,
    ):
        assert list(response.iter_lines()) == ["data: 1", ""]
    assert recorder.exchanges[0].status == 200
