"""Provider contract: audit, alone and in-process, verifies every pact that names it.

The app comes from `create_app(settings)` with a temp data dir and a fixed service token, served
by uvicorn in a background thread on a socket this test binds itself (127.0.0.1:0, created with
IPPROTO_TCP so asyncio sets TCP_NODELAY), so there is no free-port race.

Identity is not running: its two seams are swapped through `app.dependency_overrides`.
`get_token_verifier` becomes `PactTokens`, a table from the pact's fixed example tokens
(`Bearer pact-token-alice`) to user ids, and `get_authorizer` becomes `PactAuthz`, a role table
with identity's matrix for `audit:read`; each provider state fills both from its parameters.
Everything else (the DB, the chains, the service-token check, the error envelope) is the real
service; JWT verification against a JWKS and the identity client call are covered by the unit
tests.

Provider states are small named functions; every state resets the DB first and then creates
exactly what its parameters name (events are appended through the real store). A state handler
never raises (a raising handler makes the verifier retry for minutes): it records the problem,
and the test fails with the list after verification.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from pact import Verifier
from pydantic import SecretStr

from gatewright.audit import (
    PROVIDER,
    STATE_EVENT_STORED,
    STATE_SERVICE_TOKEN,
    STATE_USER_CAN_READ_AUDIT,
)
from gatewright.audit.models import EventIn
from gatewright.audit.service import AuditSettings, create_app, store
from gatewright.audit.service.api.deps import Decision, get_authorizer, get_token_verifier
from gatewright.servicekit import ServiceError

from pact_examples import SERVICE_TOKEN  # isort: skip

REPO = Path(__file__).resolve().parents[4]
PACT_DIR = Path(os.environ.get("GATEWRIGHT_PACT_DIR", REPO / "contracts"))
MATRIX = {"audit:read": {"owner", "admin"}}


class PactTokens:
    """Accepts exactly the example access tokens the current provider state registered."""

    def __init__(self) -> None:
        self.users: dict[str, str] = {}

    def verify(self, token: str) -> dict[str, Any]:
        user_id = self.users.get(token)
        if user_id is None:
            raise ServiceError(401, "unauthenticated", "The access token is not valid.")
        return {"sub": user_id}


class PactAuthz:
    """Identity's decision for `audit:read`, from the roles the current provider state named."""

    def __init__(self) -> None:
        self.roles: dict[tuple[str, str], str] = {}

    def check(self, *, subject: str, org_id: str, permission: str) -> Decision:
        role = self.roles.get((subject, org_id), "none")
        allowed = role in MATRIX.get(permission, set())
        verb = "grants" if allowed else "lacks permission"
        return Decision(allowed, role, f"Role '{role}' in org {org_id} {verb} '{permission}'.")


Handler = Callable[["ProviderStates", dict[str, Any] | None], None]


def recorded(handler: Handler) -> Handler:
    """Run a state handler, recording (never raising) whatever goes wrong in it."""

    @functools.wraps(handler)
    def run(self: ProviderStates, parameters: dict[str, Any] | None) -> None:
        try:
            handler(self, parameters)
        except Exception as exc:
            self.problems.append(f"{handler.__name__}({parameters!r}): {exc!r}")

    return run


class ProviderStates:
    """One named function per provider state (see `gatewright.audit.contract`)."""

    def __init__(
        self, app: FastAPI, settings: AuditSettings, tokens: PactTokens, authz: PactAuthz
    ) -> None:
        self.app = app
        self.settings = settings
        self.tokens = tokens
        self.authz = authz
        self.problems: list[str] = []

    def _reset(self) -> None:
        self.tokens.users.clear()
        self.authz.roles.clear()
        with self.app.state.db.session() as s, s.begin():
            store.reset(s)

    def _check_service_token(self, params: dict[str, Any]) -> None:
        expected = self.settings.service_token.get_secret_value()
        if params.get("service_token") != expected:
            raise ValueError("the pact's service token is not the one this provider test uses")

    def _append(self, bodies: list[dict[str, Any]]) -> None:
        events = [EventIn.model_validate(body) for body in bodies]
        with self.app.state.db.session() as s, s.begin():
            store.append(s, bodies=events, now=store.utcnow())

    @recorded
    def service_token(self, parameters: dict[str, Any] | None) -> None:
        self._reset()
        self._check_service_token(parameters or {})

    @recorded
    def event_stored(self, parameters: dict[str, Any] | None) -> None:
        params = parameters or {}
        self._reset()
        self._check_service_token(params)
        self._append([params["event"]])

    @recorded
    def user_can_read(self, parameters: dict[str, Any] | None) -> None:
        params = parameters or {}
        self._reset()
        self.tokens.users[params["token"]] = params["user_id"]
        self.authz.roles[(params["user_id"], params["org_id"])] = params.get("role", "admin")
        self._append(params.get("events", []))

    def handlers(self) -> dict[str, Any]:
        return {
            STATE_SERVICE_TOKEN: self.service_token,
            STATE_EVENT_STORED: self.event_stored,
            STATE_USER_CAN_READ_AUDIT: self.user_can_read,
        }


def _close_callback_servers(verifier: Verifier) -> None:
    """pact-python 4.2 stops its state-callback HTTP server with `shutdown()` but never calls
    `server_close()`, leaking the listening socket (a ResourceWarning, an error under our strict
    warnings). Close it here; `getattr` keeps this harmless once pact-python fixes it."""
    for attr in ("_state_handler", "_message_producer"):
        server = getattr(getattr(verifier, attr, None), "_server", None)
        if server is not None:
            server.server_close()


def pact_files() -> list[Path]:
    """Every pact in the pact dir whose provider is audit."""
    files = []
    for path in sorted(PACT_DIR.glob("*.json")):
        content = json.loads(path.read_text())
        if content.get("provider", {}).get("name") == PROVIDER:
            files.append(path)
    return files


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ProviderStates]]:
    settings = AuditSettings(
        data_dir=tmp_path_factory.mktemp("audit"),
        service_token=SecretStr(SERVICE_TOKEN),
        identity_url="http://identity.invalid",
    )
    app = create_app(settings)
    tokens, authz = PactTokens(), PactAuthz()
    app.dependency_overrides[get_token_verifier] = lambda: tokens
    app.dependency_overrides[get_authorizer] = lambda: authz

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:  # a startup probe with a deadline, not a synchronization sleep
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("audit did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", ProviderStates(app, settings, tokens, authz)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_audit_honours_its_pacts(provider: tuple[str, ProviderStates]) -> None:
    url, states = provider
    files = pact_files()
    assert files, f"no pact naming provider {PROVIDER!r} in {PACT_DIR}; run test_consumer.py first"
    verifier = (
        Verifier(PROVIDER, host="127.0.0.1")
        .add_transport(url=url)
        .state_handler(states.handlers(), teardown=False)
        .set_error_on_empty_pact(enabled=True)
    )
    for path in files:
        verifier.add_source(path)
    try:
        verifier.verify()
    except RuntimeError:
        pytest.fail(
            f"pact verification failed:\n{verifier.output(strip_ansi=True)}"
            + "".join(f"\nprovider state problem: {p}" for p in states.problems)
        )
    finally:
        _close_callback_servers(verifier)
    assert not states.problems, "provider states could not be set up:\n" + "\n".join(
        states.problems
    )
    results = verifier.results
    assert results.get("result") is True, verifier.output(strip_ansi=True)
