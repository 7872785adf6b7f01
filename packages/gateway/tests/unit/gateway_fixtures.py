"""In-process gateway with its collaborators stubbed.

- identity and budgets: their owners' doubles passed to `create_app(identity=, budgets=)` (the
  seam the real `AsyncClient`s fill in production): identity's `FakeIdentity` (its `client`;
  `api_keys` are the keys it verifies) and budgets' `FakeBudgets`, from each one's
  `service.testing`; they record every call.
- backends: `backend_app()`, a tiny FastAPI app with modelsim's behaviour by model name
  (`sim-echo`, `sim-fail-<status>`, `sim-slow-<ms>`, `sim-bad-json`, `sim-drip` streams one word per
  50 ms, `sim-bytes` counts prompt tokens as modelsim's `sim-bytes` does, `sim-greedy` reports
  twice the completion tokens it was allowed: a backend that ignores `max_tokens`), served by
  uvicorn on a real socket, as is the gateway itself (streaming and client disconnects need real
  sockets). Usage is counted with modelsim's tokenizers.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import SecretStr

from gatewright.budgets.service.testing import FakeBudgets, FakeReservations
from gatewright.gateway.service import GatewaySettings, create_app
from gatewright.identity import KeyVerification
from gatewright.identity.service.testing import FakeIdentity
from gatewright.modelsim import count_prompt_bytes, count_prompt_tokens

SERVICE_TOKEN = "unit-service-token"
ORG = "org_unit"
OTHER_ORG = "org_other"


def eventually(check: Any, timeout: float = 10.0) -> None:
    """Poll `check()` until true (a completion settles just after its answer went out)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.01)


@contextmanager
def serve(app: Any) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:  # a startup probe with a deadline, not a synchronization sleep
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


# -- backends --------------------------------------------------------------------------------
@dataclass
class BackendLog:
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    stream_closed: list[str] = field(default_factory=list)


def backend_app(log: BackendLog) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.json()
        log.requests.append(body)
        log.headers.append(dict(request.headers))
        model = body["model"]
        words = int(body.get("max_tokens", 16))
        count = count_prompt_bytes if model == "sim-bytes" else count_prompt_tokens
        prompt = count(body["messages"])
        reported = 2 * words if model == "sim-greedy" else words
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": reported,
            "total_tokens": prompt + reported,
        }
        if model.startswith("sim-fail-"):  # sim-fail-<status>: that status, an OpenAI error body
            status = int(model.removeprefix("sim-fail-"))
            return JSONResponse({"error": {"message": f"simulated {status}"}}, status_code=status)
        if model.startswith("sim-slow-"):
            await asyncio.sleep(int(model.removeprefix("sim-slow-")) / 1000)
        if model == "sim-bad-json":
            return Response("{not json", media_type="application/json")
        text = " ".join(f"w{i}" for i in range(words))
        if body.get("stream"):
            include = (body.get("stream_options") or {}).get("include_usage") is True
            delay = 0.05 if model == "sim-drip" else 0.0

            async def events() -> AsyncIterator[str]:
                try:
                    for i in range(words):
                        delta = {"content": ("" if i == 0 else " ") + f"w{i}"}
                        chunk = {
                            "id": "c1",
                            "object": "chat.completion.chunk",
                            "model": model,
                            "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
                        }
                        yield f"data: {json.dumps(chunk)}\n\n"
                        if delay:
                            await asyncio.sleep(delay)
                    if include:
                        chunk = {
                            "id": "c1",
                            "object": "chat.completion.chunk",
                            "model": model,
                            "choices": [],
                            "usage": usage,
                        }
                        yield f"data: {json.dumps(chunk)}\n\n"
                    yield "data: [DONE]\n\n"
                finally:
                    log.stream_closed.append(model)

            return StreamingResponse(events(), media_type="text/event-stream")
        return JSONResponse(
            {
                "id": "c1",
                "object": "chat.completion",
                "created": 1,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "length",
                    }
                ],
                "usage": usage,
            }
        )

    return app


# -- the world -------------------------------------------------------------------------------
@dataclass
class World:
    url: str
    backend: str
    backend_log: BackendLog
    identity: FakeIdentity
    budgets: FakeBudgets
    settings: GatewaySettings
    app: Any

    def key(
        self,
        secret: str = "gwk_unit",  # noqa: S107 - a fake key
        *,
        models: list[str] | None = None,
        rpm: int | None = None,
        org_id: str = ORG,
        key_id: str = "key_unit",
    ) -> str:
        self.identity.api_keys[secret] = KeyVerification(
            key_id=key_id, org_id=org_id, models=models, rate_limit_rpm=rpm
        )
        return secret

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def route(
        self,
        alias: str,
        models: list[str] | str,
        *,
        org_id: str | None = None,
        inp: int = 1_000_000,
        out: int = 2_000_000,
        timeout: float = 5.0,
        backend: str | None = None,
        max_output_tokens: int | None = None,
    ) -> None:
        models = [models] if isinstance(models, str) else models
        path = f"/v1/orgs/{org_id}/routes/{alias}" if org_id else f"/v1/routes/{alias}"
        body = {
            "backends": [
                {"url": backend or self.backend, "model": m, "timeout_seconds": timeout}
                for m in models
            ],
            "input_micro_usd_per_mtok": inp,
            "output_micro_usd_per_mtok": out,
        }
        if max_output_tokens is not None:
            body["max_output_tokens"] = max_output_tokens
        with self.http(SERVICE_TOKEN) as http:
            response = http.put(path, json=body)
        assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    log = BackendLog()
    identity, budgets = FakeIdentity(service_token=SERVICE_TOKEN), FakeBudgets()
    settings = GatewaySettings(
        data_dir=Path(tmp_path_factory.mktemp("gateway")),
        service_token=SecretStr(SERVICE_TOKEN),
        identity_url="http://127.0.0.1:9",
        key_cache_seconds=60,
        route_cache_seconds=0,
        public_url="http://gateway.test",
    )
    app = create_app(settings, identity=identity.client, budgets=budgets)
    with serve(backend_app(log)) as backend, serve(app) as url:
        yield World(url, backend, log, identity, budgets, settings, app)


@pytest.fixture
def world(stack: World) -> World:
    """The module's stack with per-test records, keys and budget limit reset."""
    stack.backend_log.requests.clear()
    stack.backend_log.headers.clear()
    stack.backend_log.stream_closed.clear()
    stack.identity.api_keys.clear()
    stack.identity.verify_calls = 0
    stack.identity.orgs = {ORG, OTHER_ORG}
    stack.budgets.reservations = FakeReservations()
    stack.app.state.gateway.keys.clear()
    stack.app.state.gateway.limiter = type(stack.app.state.gateway.limiter)()
    return stack


def now() -> datetime:
    return datetime.now(UTC)
