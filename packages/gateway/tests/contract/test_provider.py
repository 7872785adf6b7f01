"""Provider contract: the gateway, alone and in-process, verifies every pact that names it.

The app comes from `create_app(settings, identity=, budgets=, backend_http=)` with a temp data
dir and a fixed service token, served in-process by `gatewright.testkit.pactverify.serve_in_thread`
and verified by `verify_provider` (every pact in the pact dir naming the gateway;
`GATEWRIGHT_PACT_DIR`, default `contracts/`).

Nothing else runs. The collaborators are the seam `create_app` offers (the same shapes as the
fakes of `tests/unit/gateway_fixtures.py`):
- identity: identity's own `FakeIdentity` (its `client`), whose `keys.verify` answers from the
  `api_keys` the provider states fill (secret -> key id, org, allowed models, rate limit) and
  whose `authz` is never asked here (the route interactions use the service token);
- budgets: budgets' own `FakeBudgets`, which holds every reservation except for orgs a state
  marked as exhausted (a budget spent to its limit), which get budgets' 402 `budget_exceeded`
  (limit, spent, reserved, requested);
- backends: `backend_http` is an `httpx.AsyncClient` over `httpx.ASGITransport` to
  `stub_backend()`, a tiny OpenAI-compatible app answering like modelsim's `sim-echo`. Every
  backend URL reaches it, so a route state stores the pact's `backend_url` unchanged and the
  `X-Gatewright-Backend` header is exactly the pact's example.
Everything else (the route table in SQLite, the key cache, the rate limiter, pricing, the
service-token check, the error envelope) is the real service.

Provider states are small named functions (see `gatewright.gateway.contract`). States are
applied in the pact's order and each resets only what it names: `STATE_API_KEY` (always first on
a completion interaction) resets the caller's world (keys, key cache, rate limiter, exhausted
orgs) and seeds one key, filling its rate-limit window with `requests_this_minute` requests;
`STATE_ROUTE_EXISTS` resets the route table and puts one route; `STATE_NO_ROUTE` deletes the
alias from the org and the global table (so nothing resolves); `STATE_BUDGET_EXHAUSTED` marks one
org; `STATE_SERVICE_TOKEN` seeds nothing and checks the pact's token is the one configured here.
A state handler may raise: `verify_provider` records the problem (a raising handler would make
the verifier retry for minutes) and the test fails with the list after verification.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from gatewright.budgets.service.testing import FakeBudgets
from gatewright.gateway import (
    PROVIDER,
    STATE_API_KEY,
    STATE_BUDGET_EXHAUSTED,
    STATE_NO_ROUTE,
    STATE_ORG_EXISTS,
    STATE_ROUTE_EXISTS,
    STATE_SERVICE_TOKEN,
)
from gatewright.gateway.contract import ALL_STATES
from gatewright.gateway.models import DEFAULT_MAX_OUTPUT_TOKENS, Backend
from gatewright.gateway.service import GatewaySettings, create_app, store
from gatewright.identity import KeyVerification
from gatewright.identity.service.testing import FakeIdentity
from gatewright.modelsim import count_prompt_tokens
from gatewright.testkit.pactverify import check_service_token, serve_in_thread, verify_provider

from pact_examples import SERVICE_TOKEN  # isort: skip

EXHAUSTED_LIMIT = 5_000_000  # what budgets reports for an exhausted org: spent == limit


# -- the stub backend ------------------------------------------------------------------------
def stub_backend() -> FastAPI:
    """Unstreamed OpenAI chat completions answered like modelsim's `sim-echo`."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        words = int(body.get("max_tokens", 16))
        prompt = count_prompt_tokens(body["messages"])
        return JSONResponse(
            {
                "id": "chatcmpl-stub",
                "object": "chat.completion",
                "created": 1767225600,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": " ".join(f"w{i}" for i in range(words)),
                        },
                        "finish_reason": "length",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": words,
                    "total_tokens": prompt + words,
                },
            }
        )

    return app


# -- provider states -------------------------------------------------------------------------
class ProviderStates:
    """One named function per provider state (see `gatewright.gateway.contract`)."""

    def __init__(
        self,
        app: FastAPI,
        settings: GatewaySettings,
        identity: FakeIdentity,
        budgets: FakeBudgets,
    ) -> None:
        self.app = app
        self.settings = settings
        self.identity = identity
        self.budgets = budgets

    @property
    def gateway(self) -> Any:
        return self.app.state.gateway

    def api_key(self, parameters: dict[str, Any] | None) -> None:
        params = parameters or {}
        self.identity.api_keys.clear()
        self.budgets.reset()
        self.gateway.keys.clear()
        self.gateway.limiter = type(self.gateway.limiter)()
        key = KeyVerification(
            key_id=params["key_id"],
            org_id=params["org_id"],
            models=params.get("models"),
            rate_limit_rpm=params.get("rate_limit_rpm"),
        )
        self.identity.api_keys[params["secret"]] = key
        for _ in range(int(params.get("requests_this_minute", 0))):
            if key.rate_limit_rpm is None:
                raise ValueError("requests_this_minute needs a rate_limit_rpm")
            if self.gateway.limiter.acquire(key.key_id, key.rate_limit_rpm) is not None:
                raise ValueError("requests_this_minute is more than the rate limit")

    def route_exists(self, parameters: dict[str, Any] | None) -> None:
        params = parameters or {}
        backend = Backend(url=params["backend_url"], model=params["backend_model"])
        with self.app.state.db.session() as s, s.begin():
            store.reset(s)
            store.put_route(
                s,
                org_id=params["org_id"],
                alias=params["alias"],
                backends=[backend],
                input_price=params["input_price"],
                output_price=params["output_price"],
                max_output_tokens=params.get("max_output_tokens", DEFAULT_MAX_OUTPUT_TOKENS),
            )
        self.gateway.routes.invalidate()

    def no_route(self, parameters: dict[str, Any] | None) -> None:
        params = parameters or {}
        alias, org_id = params["alias"], params["org_id"]
        with self.app.state.db.session() as s, s.begin():
            for owner in {org_id, None}:
                store.delete_route(s, org_id=owner, alias=alias)
        self.gateway.routes.invalidate()

    def budget_exhausted(self, parameters: dict[str, Any] | None) -> None:
        org_id = (parameters or {})["org_id"]
        self.budgets.reservations.limits[org_id] = EXHAUSTED_LIMIT
        self.budgets.reservations.spent[org_id] = EXHAUSTED_LIMIT

    def org_exists(self, parameters: dict[str, Any] | None) -> None:
        self.identity.members((parameters or {})["org_id"])

    def service_token(self, parameters: dict[str, Any] | None) -> None:
        check_service_token(parameters, self.settings.service_token.get_secret_value())

    def handlers(self) -> dict[str, Any]:
        return {
            STATE_API_KEY: self.api_key,
            STATE_ROUTE_EXISTS: self.route_exists,
            STATE_NO_ROUTE: self.no_route,
            STATE_BUDGET_EXHAUSTED: self.budget_exhausted,
            STATE_SERVICE_TOKEN: self.service_token,
            STATE_ORG_EXISTS: self.org_exists,
        }


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ProviderStates]]:
    settings = GatewaySettings(
        data_dir=tmp_path_factory.mktemp("gateway"),
        service_token=SecretStr(SERVICE_TOKEN),
        identity_url="http://identity.invalid",
        budgets_url="http://budgets.invalid",
        route_cache_seconds=0,
        register_revocation_hook=False,
    )
    identity, budgets = FakeIdentity(service_token=SERVICE_TOKEN), FakeBudgets()
    backend_http = httpx.AsyncClient(transport=httpx.ASGITransport(app=stub_backend()))
    app = create_app(settings, identity=identity.client, budgets=budgets, backend_http=backend_http)

    try:
        with serve_in_thread(app, name="gateway") as url:
            yield url, ProviderStates(app, settings, identity, budgets)
    finally:
        asyncio.run(backend_http.aclose())


def test_gateway_honours_its_pacts(provider: tuple[str, ProviderStates]) -> None:
    url, states = provider
    verify_provider(PROVIDER, url, states.handlers(), declared=ALL_STATES)
