"""A completion never outlives its budget reservation (decision 10), and the gateway refuses to
start on a reservation TTL budgets would refuse.

Budgets expires a hold at its TTL; after that its money can be reserved again, and a late
commit is still charged in full (budgets' unit tests), so an org could end above its limit. The
gateway therefore stops every completion before the hold lapses: attempts are clamped to the
deadline, a stream is cut once its next read could end past it, and the sending of an answer
stops at it. These tests run a gateway whose reservations last 3 s.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr, ValidationError
from starlette.types import Message

from gatewright.budgets import MAX_TTL_SECONDS
from gatewright.budgets.service.testing import FakeBudgets
from gatewright.gateway import prompt_token_bound
from gatewright.gateway.service import GatewaySettings, create_app
from gatewright.gateway.service.engine.responses import MeteredStream, SettlingJSONResponse
from gatewright.identity import KeyVerification
from gatewright.identity.service.testing import FakeIdentity

from gateway_fixtures import (  # isort: skip
    SERVICE_TOKEN,
    BackendLog,
    backend_app,
    eventually,
    serve,
)

MESSAGES = [{"role": "user", "content": "one two three"}]
TTL = 3  # seconds: a completion may take 2.7 s (a tenth is kept for the commit)


@pytest.fixture(scope="module")
def short(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, FakeBudgets]]:
    """(gateway URL, backend URL, budgets) of a gateway whose reservations last `TTL`."""
    identity, budgets = FakeIdentity(service_token=SERVICE_TOKEN), FakeBudgets()
    identity.api_keys["gwk_short"] = KeyVerification(key_id="key_short", org_id="org_short")
    settings = GatewaySettings(
        data_dir=Path(tmp_path_factory.mktemp("gateway")),
        service_token=SecretStr(SERVICE_TOKEN),
        route_cache_seconds=0,
        register_revocation_hook=False,
        reservation_ttl_seconds=TTL,
    )
    app = create_app(settings, identity=identity.client, budgets=budgets)
    with serve(backend_app(BackendLog())) as backend, serve(app) as url:
        yield url, backend, budgets


def _route(url: str, backend: str, model: str, timeout: float) -> None:
    body = {
        "backends": [{"url": backend, "model": model, "timeout_seconds": timeout}],
        "input_micro_usd_per_mtok": 1_000_000,
        "output_micro_usd_per_mtok": 2_000_000,
    }
    with httpx.Client(headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}) as http:
        assert http.put(f"{url}/v1/routes/{model}", json=body).status_code == 200


def test_a_stream_longer_than_its_reservation_is_cut_and_billed_for_what_was_streamed(
    short: tuple[str, str, FakeBudgets],
) -> None:
    url, backend, budgets = short
    budgets.reservations = type(budgets.reservations)()
    _route(url, backend, "sim-drip", timeout=1.0)  # one word per 50 ms: 200 words take 10 s
    payload = {"model": "sim-drip", "messages": MESSAGES, "max_tokens": 200, "stream": True}
    with httpx.Client(headers={"Authorization": "Bearer gwk_short"}, timeout=10) as http:
        started = time.monotonic()
        response = http.post(f"{url}/v1/chat/completions", json=payload)
        took = time.monotonic() - started
    assert response.status_code == 200
    events = [
        json.loads(line[6:])
        for line in response.text.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]
    assert events[-1]["error"]["code"] == "completion_deadline"
    assert "billed only for what was streamed" in events[-1]["error"]["message"]
    streamed = "".join(
        e["choices"][0]["delta"].get("content") or "" for e in events[:-1] if e.get("choices")
    )
    assert 0 < len(streamed.split()) < 200
    assert took < TTL  # ended while its reservation still held the money
    eventually(lambda: budgets.reservations.committed)
    ((_, amount),) = budgets.reservations.committed
    assert amount == prompt_token_bound(payload) + 2 * len(streamed.encode())
    assert budgets.reservations.released == []


def test_attempts_stop_at_the_deadline(short: tuple[str, str, FakeBudgets]) -> None:
    url, backend, budgets = short
    budgets.reservations = type(budgets.reservations)()
    _route(url, backend, "sim-slow-8000", timeout=10)  # its own timeout would outlive the hold
    payload = {"model": "sim-slow-8000", "messages": MESSAGES, "max_tokens": 1}
    with httpx.Client(headers={"Authorization": "Bearer gwk_short"}, timeout=10) as http:
        started = time.monotonic()
        response = http.post(f"{url}/v1/chat/completions", json=payload)
        took = time.monotonic() - started
    assert response.status_code == 504, response.text
    error = response.json()["error"]
    assert error["code"] == "backends_timeout"
    assert f"budget reservation lasts {TTL} s" in error["message"]
    assert took < TTL
    assert budgets.reservations.released == ["res_1"]


@pytest.mark.parametrize("spec", ["2.3", "2.4"])  # before 2.4 a stream also awaits disconnects
@pytest.mark.parametrize("kind", ["plain", "stream"])
async def test_sending_to_a_client_that_stopped_reading_ends_at_the_deadline(
    kind: str, spec: str
) -> None:
    """A client that stops reading must not hold the commit back until the hold lapses."""
    settled: list[str] = []
    stopped: list[str] = []

    async def on_close() -> None:
        settled.append("committed")

    async def stuck(message: Message) -> None:
        if message["type"] == "http.response.body":
            await asyncio.Event().wait()  # the client reads nothing more, ever

    async def receive() -> Message:
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def chunks() -> AsyncIterator[bytes]:
        yield b"data: {}\n\n"

    deadline = time.monotonic() + 0.2
    response: SettlingJSONResponse | MeteredStream
    if kind == "plain":
        response = SettlingJSONResponse(
            {"id": "c1"}, headers={}, on_close=on_close, deadline=deadline
        )
    else:
        response = MeteredStream(
            chunks(),
            on_close=on_close,
            headers={},
            deadline=deadline,
            on_deadline=lambda: stopped.append("cut"),
        )
    await response({"type": "http", "asgi": {"spec_version": spec}}, receive, stuck)
    assert settled == ["committed"]
    assert time.monotonic() - deadline < 5
    assert stopped == ([] if kind == "plain" else ["cut"])


# -- the TTL is budgets' limit, imported -----------------------------------------------------
def test_the_ttl_budgets_accepts_is_accepted() -> None:
    assert GatewaySettings(reservation_ttl_seconds=MAX_TTL_SECONDS).reservation_ttl_seconds == 3600


def test_a_ttl_budgets_would_refuse_is_refused_naming_both_limits() -> None:
    with pytest.raises(ValidationError) as refused:
        GatewaySettings(reservation_ttl_seconds=MAX_TTL_SECONDS + 1)
    message = str(refused.value)
    assert "GATEWRIGHT_RESERVATION_TTL_SECONDS is 3601" in message
    assert "gatewright.budgets.MAX_TTL_SECONDS (3600 s)" in message


def test_the_gateway_refuses_to_start_on_a_ttl_budgets_would_refuse(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "GATEWRIGHT_RESERVATION_TTL_SECONDS": "86400",
        "GATEWRIGHT_DATA_DIR": str(tmp_path),
        "GATEWRIGHT_REGISTER_REVOCATION_HOOK": "false",
    }
    done = subprocess.run(
        [sys.executable, "-m", "gatewright.gateway"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "GATEWRIGHT_RESERVATION_TTL_SECONDS is 86400" in done.stderr
    assert "MAX_TTL_SECONDS (3600 s)" in done.stderr
