"""Provider contract: audit, alone and in-process, verifies every pact that names it.

The app comes from `create_app(settings)` with a temp data dir and a fixed service token, served
in-process by `gatewright.testkit.pactverify.serve_in_thread` and verified by `verify_provider`
(every pact in the pact dir naming audit; `GATEWRIGHT_PACT_DIR`, default `contracts/`).

Identity is not running: its two seams (`get_token_verifier`, `get_authorizer`) are swapped through
`app.dependency_overrides` for identity's own `FakeIdentity`, which accepts the pact's fixed
example tokens (`Bearer pact-token-alice`, in `example_tokens`) and decides with identity's real
permission matrix over the roles each provider state names. Everything else (the DB, the
service-token check, the error envelope) is the real service; JWT verification against a JWKS and
the identity client call are covered by the unit tests.

Provider states are small named functions; every state resets the DB first and then creates
exactly what its parameters name (events are appended through the real store). A state handler
may raise: `verify_provider` records the problem (a raising handler would make the verifier retry
for minutes) and the test fails with the list after verification.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from gatewright.audit import (
    PROVIDER,
    STATE_EVENT_STORED,
    STATE_SERVICE_TOKEN,
    STATE_USER_CAN_READ_AUDIT,
)
from gatewright.audit.contract import ALL_STATES
from gatewright.audit.models import EventIn
from gatewright.audit.service import AuditSettings, create_app, store
from gatewright.audit.service.api.deps import get_authorizer, get_token_verifier
from gatewright.identity.service.testing import FakeIdentity
from gatewright.servicekit.db import utcnow
from gatewright.testkit.pactverify import check_service_token, serve_in_thread, verify_provider

from pact_examples import SERVICE_TOKEN  # isort: skip


class ProviderStates:
    """One named function per provider state (see `gatewright.audit.contract`)."""

    def __init__(self, app: FastAPI, settings: AuditSettings, identity: FakeIdentity) -> None:
        self.app = app
        self.settings = settings
        self.identity = identity

    def _reset(self) -> None:
        self.identity.example_tokens.clear()
        self.identity.roles.clear()
        with self.app.state.db.session() as s, s.begin():
            store.reset(s)

    def _append(self, bodies: list[dict[str, Any]]) -> None:
        events = [EventIn.model_validate(body) for body in bodies]
        with self.app.state.db.session() as s, s.begin():
            store.append(s, bodies=events, now=utcnow())

    def service_token(self, parameters: dict[str, Any] | None) -> None:
        self._reset()
        check_service_token(parameters, self.settings.service_token.get_secret_value())

    def event_stored(self, parameters: dict[str, Any] | None) -> None:
        params = parameters or {}
        self._reset()
        check_service_token(params, self.settings.service_token.get_secret_value())
        self._append([params["event"]])

    def user_can_read(self, parameters: dict[str, Any] | None) -> None:
        params = parameters or {}
        self._reset()
        self.identity.example_tokens[params["token"]] = params["user_id"]
        self.identity.roles[(params["user_id"], params["org_id"])] = params.get("role", "admin")
        self._append(params.get("events", []))

    def handlers(self) -> dict[str, Any]:
        return {
            STATE_SERVICE_TOKEN: self.service_token,
            STATE_EVENT_STORED: self.event_stored,
            STATE_USER_CAN_READ_AUDIT: self.user_can_read,
        }


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ProviderStates]]:
    settings = AuditSettings(
        data_dir=tmp_path_factory.mktemp("audit"),
        service_token=SecretStr(SERVICE_TOKEN),
        identity_url="http://identity.invalid",
    )
    app = create_app(settings)
    identity = FakeIdentity(service_token=SERVICE_TOKEN)
    app.dependency_overrides[get_token_verifier] = lambda: identity
    app.dependency_overrides[get_authorizer] = lambda: identity

    with serve_in_thread(app, name="audit") as url:
        yield url, ProviderStates(app, settings, identity)


def test_audit_honours_its_pacts(provider: tuple[str, ProviderStates]) -> None:
    url, states = provider
    verify_provider(PROVIDER, url, states.handlers(), declared=ALL_STATES)
