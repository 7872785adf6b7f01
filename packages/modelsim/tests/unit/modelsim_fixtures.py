"""Helpers for the in-process modelsim tests: settings, the app, plain and async HTTP clients.

A module with a package-unique name (not `conftest`), so test modules can import it directly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gatewright.modelsim.service import ModelsimSettings, create_app

CHAT = "/v1/chat/completions"
HELLO = [{"role": "user", "content": "hello there"}]


def make_app(**overrides: Any) -> FastAPI:
    return create_app(ModelsimSettings(**overrides))


def chat_body(model: str = "sim-default", **fields: Any) -> dict[str, Any]:
    return {"model": model, "messages": HELLO, **fields}


@pytest.fixture
def app() -> FastAPI:
    return make_app()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
async def aclient(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://modelsim.test") as c:
        yield c


def sse_payloads(text: str) -> list[str]:
    """The `data:` payloads of an event stream, in order (modelsim sends one line per event)."""
    events = [e for e in text.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events), events
    return [e.removeprefix("data: ") for e in events]
