"""Provider contract: identity, alone and in-process, verifies every pact that names it.

The app comes from `create_app(settings)` with a temp data dir and a fixed service token, served
in-process by `gatewright.testkit.pactverify.serve_in_thread` and verified by `verify_provider`
(every pact in the pact dir naming identity; `GATEWRIGHT_PACT_DIR`, default `contracts/`).

Access tokens: a pact cannot hold a real JWT (identity signs with a key generated at start, and
tokens expire), so consumer requests carry fixed example tokens (`Bearer pact-token-alice`) under a
regex matcher. Here the token verifier is swapped through the app's seam
(`app.dependency_overrides[get_token_verifier]`) for `FakeIdentity`
(`gatewright.identity.service.testing`), whose `example_tokens` table (example token to user id)
each provider state fills from its own `token` parameter. Everything else (the DB, permission
checks, argon2, the service-token check, the error envelope) is the real service; JWT signing and
verification are covered by the unit tests and by the login interaction.

Provider states are small named functions; every state that seeds data resets the DB first and
then creates exactly what its parameters name, with the fixed IDs from the pact. The
service-token state seeds nothing: it checks that the pact's token is the one configured here.
A state handler may raise: `verify_provider` records the problem (a raising handler would make the
verifier retry for minutes) and the test fails with the list after verification.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from gatewright.identity import (
    PROVIDER,
    STATE_ACCOUNT_INVITED,
    STATE_API_KEY_EXISTS,
    STATE_INVITATION_EXISTS,
    STATE_ORG_EXISTS,
    STATE_SERVICE_TOKEN,
    STATE_USER_EXISTS,
)
from gatewright.identity.contract import ALL_STATES
from gatewright.identity.service import IdentitySettings, create_app, store
from gatewright.identity.service.api.deps import get_token_verifier
from gatewright.identity.service.testing import FakeIdentity
from gatewright.testkit.pactverify import check_service_token, serve_in_thread, verify_provider

from pact_examples import SERVICE_TOKEN  # isort: skip

OWNER_ID = "usr_000000"  # the org's owner when the state's own user has another role
OWNER_EMAIL = "owner@example.test"
SEED_PASSWORD = "seeded-password-1"


class ProviderStates:
    """One named function per provider state (see `gatewright.identity.contract`)."""

    def __init__(self, app: FastAPI, settings: IdentitySettings, tokens: FakeIdentity) -> None:
        self.app = app
        self.settings = settings
        self.tokens = tokens

    def _reset(self) -> None:
        self.tokens.example_tokens.clear()
        with self.app.state.db.session() as s, s.begin():
            store.reset(s)

    def _user(self, user_id: str, email: str, password: str = SEED_PASSWORD) -> None:
        password_hash = self.app.state.passwords.hash(password)
        with self.app.state.db.session() as s, s.begin():
            store.create_user(s, user_id=user_id, email=email, password_hash=password_hash)

    def _org(self, params: dict[str, Any]) -> None:
        org_id, user_id, role = params["org_id"], params["user_id"], params["role"]
        self._user(user_id, params["email"], params.get("password", SEED_PASSWORD))
        owner = user_id if role == "owner" else OWNER_ID
        if owner != user_id:
            self._user(OWNER_ID, OWNER_EMAIL)
        with self.app.state.db.session() as s, s.begin():
            store.create_org(s, org_id=org_id, name=params.get("name", "acme"), owner_id=owner)
            if owner != user_id:
                store.add_member(s, org_id=org_id, user_id=user_id, role=role)
        if "token" in params:
            self.tokens.example_tokens[params["token"]] = user_id

    def user_exists(self, parameters: dict[str, Any] | None) -> None:
        params = parameters or {}
        self._reset()
        self._user(params["user_id"], params["email"], params["password"])
        self.tokens.example_tokens[params["token"]] = params["user_id"]

    def org_exists(self, parameters: dict[str, Any] | None) -> None:
        self._reset()
        self._org(parameters or {})

    def _invited(self, params: dict[str, Any], *, email: str, token: str, created_by: str) -> None:
        """An org (owned by OWNER_ID, seeded here) with one pending invitation for `email`."""
        self._user(OWNER_ID, OWNER_EMAIL)
        with self.app.state.db.session() as s, s.begin():
            store.create_org(s, org_id=params["org_id"], name="acme", owner_id=OWNER_ID)
            store.create_invitation(
                s,
                invitation_id=params["invitation_id"],
                org_id=params["org_id"],
                email=email,
                role=params["role"],
                token_hash=store.sha256_hex(token),
                created_by=created_by,
                expires_at=store.now() + timedelta(days=7),
            )

    def invitation_exists(self, parameters: dict[str, Any] | None) -> None:
        params = parameters or {}
        self._reset()
        self._invited(
            params, email=params["email"], token=params["invitation_token"], created_by=OWNER_ID
        )

    def account_invited(self, parameters: dict[str, Any] | None) -> None:
        params = parameters or {}
        self._reset()
        self._user(params["user_id"], params["email"])
        self.tokens.example_tokens[params["token"]] = params["user_id"]
        # Gitops's invitation: its token was dropped, so this flow never sees one.
        self._invited(
            params,
            email=params["invitation_email"],
            token=f"gwi_{params['invitation_id']}-never-seen",
            created_by="service:gitops",
        )

    def api_key_exists(self, parameters: dict[str, Any] | None) -> None:
        params = parameters or {}
        self._reset()
        self._org(params)
        with self.app.state.db.session() as s, s.begin():
            store.create_api_key(
                s,
                key_id=params["key_id"],
                org_id=params["org_id"],
                name=params["key_name"],
                secret=params["secret"],
                models=params.get("models"),
                created_by=params["user_id"],
            )

    def service_token(self, parameters: dict[str, Any] | None) -> None:
        check_service_token(parameters, self.settings.service_token.get_secret_value())

    def handlers(self) -> dict[str, Any]:
        return {
            STATE_USER_EXISTS: self.user_exists,
            STATE_ORG_EXISTS: self.org_exists,
            STATE_INVITATION_EXISTS: self.invitation_exists,
            STATE_ACCOUNT_INVITED: self.account_invited,
            STATE_API_KEY_EXISTS: self.api_key_exists,
            STATE_SERVICE_TOKEN: self.service_token,
        }


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ProviderStates]]:
    settings = IdentitySettings(
        data_dir=tmp_path_factory.mktemp("identity"),
        service_token=SecretStr(SERVICE_TOKEN),
        bootstrap_admin_password=SecretStr("provider-admin-password"),
        argon2_time_cost=1,
        argon2_memory_kib=1024,
    )
    app = create_app(settings)
    tokens = FakeIdentity(service_token=SERVICE_TOKEN)  # only its example tokens are used
    app.dependency_overrides[get_token_verifier] = lambda: tokens

    with serve_in_thread(app, name="identity") as url:
        yield url, ProviderStates(app, settings, tokens)


def test_identity_honours_its_pacts(provider: tuple[str, ProviderStates]) -> None:
    url, states = provider
    verify_provider(PROVIDER, url, states.handlers(), declared=ALL_STATES)
