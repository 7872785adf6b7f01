"""Provider contract: budgets, alone and in-process, verifies every pact that names it.

The app comes from `create_app(settings)` with a temp data dir and a fixed service token, served
in-process by `gatewright.testkit.pactverify.serve_in_thread` and verified by `verify_provider`
(every pact in the pact dir naming budgets; `GATEWRIGHT_PACT_DIR`, default `contracts/`).

Identity is not running: its two seams (`get_token_verifier`, `get_authorizer`) are swapped through
`app.dependency_overrides` for identity's own `FakeIdentity`, which accepts the pact's fixed
example tokens (`Bearer pact-token-alice`, in `example_tokens`) and decides with identity's real
permission matrix over the roles each provider state names. Everything else (the DB, the
service-token check, the error envelope) is the real service; JWT verification against a JWKS and
the identity client call are covered by the unit tests.

Provider states are small named functions; every state that seeds data resets the DB first and
then creates exactly what its parameters name, with the fixed IDs from the pact. The
service-token state seeds nothing: it checks that the pact's token is the one configured here.
A state handler may raise: `verify_provider` records the problem (a raising handler would make the
verifier retry for minutes) and the test fails with the list after verification.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from gatewright.budgets import (
    PROVIDER,
    STATE_BUDGET_NEARLY_SPENT,
    STATE_KEY_BUDGET_EXISTS,
    STATE_ORG_BUDGET_EXISTS,
    STATE_RESERVATION_HELD,
    STATE_SERVICE_TOKEN,
    STATE_USER_CAN_MANAGE_BUDGETS,
)
from gatewright.budgets.contract import ALL_STATES
from gatewright.budgets.service import BudgetsSettings, create_app, store, testing
from gatewright.budgets.service.api.deps import (
    get_authorizer,
    get_org_directory,
    get_token_verifier,
)
from gatewright.identity.service.testing import FakeIdentity
from gatewright.servicekit.db import utcnow
from gatewright.testkit.pactverify import check_service_token, serve_in_thread, verify_provider

from pact_examples import SERVICE_TOKEN  # isort: skip


class ProviderStates:
    """One named function per provider state (see `gatewright.budgets.contract`)."""

    def __init__(self, app: FastAPI, settings: BudgetsSettings, identity: FakeIdentity) -> None:
        self.app = app
        self.settings = settings
        self.identity = identity

    def _reset(self) -> None:
        self.identity.example_tokens.clear()
        self.identity.roles.clear()
        with self.app.state.db.session() as s, s.begin():
            testing.reset(s)

    def _user(self, params: dict[str, Any]) -> None:
        self.identity.example_tokens[params["token"]] = params["user_id"]
        self.identity.roles[(params["user_id"], params["org_id"])] = params.get("role", "admin")

    def _budget(self, params: dict[str, Any], key_id: str | None) -> None:
        now = utcnow()
        with self.app.state.db.session() as s, s.begin():
            store.set_budget(
                s,
                org_id=params["org_id"],
                key_id=key_id,
                limit_micro_usd=params["limit_micro_usd"],
                period=params["period"],
                now=now,
            )
            testing.seed_spent(
                s,
                org_id=params["org_id"],
                key_id=key_id,
                spent_micro_usd=params["spent_micro_usd"],
                now=now,
            )

    def user_can_manage(self, parameters: dict[str, Any] | None) -> None:
        self._reset()
        self._user(parameters or {})

    def org_budget_exists(self, parameters: dict[str, Any] | None) -> None:
        params = parameters or {}
        self._reset()
        self._user(params)
        self._budget(params, None)

    def key_budget_exists(self, parameters: dict[str, Any] | None) -> None:
        params = parameters or {}
        self._reset()
        self._user(params)
        self._budget(params, params["key_id"])

    def budget_nearly_spent(self, parameters: dict[str, Any] | None) -> None:
        params = parameters or {}
        self.service_token(params)
        self._reset()
        self._budget(params, None)

    def reservation_held(self, parameters: dict[str, Any] | None) -> None:
        params = parameters or {}
        self.service_token(params)
        self._reset()
        with self.app.state.db.session() as s, s.begin():
            testing.seed_reservation(
                s,
                reservation_id=params["reservation_id"],
                org_id=params["org_id"],
                key_id=params["key_id"],
                amount_micro_usd=params["amount_micro_usd"],
                request_id=params["request_id"],
                ttl_seconds=300,
                now=utcnow(),
            )

    def service_token(self, parameters: dict[str, Any] | None) -> None:
        check_service_token(parameters, self.settings.service_token.get_secret_value())

    def handlers(self) -> dict[str, Any]:
        return {
            STATE_USER_CAN_MANAGE_BUDGETS: self.user_can_manage,
            STATE_ORG_BUDGET_EXISTS: self.org_budget_exists,
            STATE_KEY_BUDGET_EXISTS: self.key_budget_exists,
            STATE_SERVICE_TOKEN: self.service_token,
            STATE_RESERVATION_HELD: self.reservation_held,
            STATE_BUDGET_NEARLY_SPENT: self.budget_nearly_spent,
        }


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ProviderStates]]:
    settings = BudgetsSettings(
        data_dir=tmp_path_factory.mktemp("budgets"),
        service_token=SecretStr(SERVICE_TOKEN),
        identity_url="http://identity.invalid",
        sweep_interval_seconds=3600,
    )
    app = create_app(settings)
    identity = FakeIdentity(service_token=SERVICE_TOKEN)
    app.dependency_overrides[get_token_verifier] = lambda: identity
    app.dependency_overrides[get_authorizer] = lambda: identity
    app.dependency_overrides[get_org_directory] = lambda: identity

    with serve_in_thread(app, name="budgets") as url:
        yield url, ProviderStates(app, settings, identity)


def test_budgets_honours_its_pacts(provider: tuple[str, ProviderStates]) -> None:
    url, states = provider
    verify_provider(PROVIDER, url, states.handlers(), declared=ALL_STATES)
