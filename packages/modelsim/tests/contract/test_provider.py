"""Provider contract: modelsim, alone and in-process, verifies every pact that names it.

modelsim has no consumer pact of its own; the gateway's `contracts/gateway-modelsim.json` says
what the gateway needs from any OpenAI-compatible backend. The app comes from
`create_app(settings)`, served by uvicorn in a background thread on a socket this test binds
itself (127.0.0.1:0, created with IPPROTO_TCP so asyncio sets TCP_NODELAY): no free-port race.

Behaviour is chosen by model name, so provider states seed nothing. Each is a small named
function that clears the observations (every interaction starts from an empty buffer) and checks
that the model the pact names really behaves as the state says, so a pact that asks for a
503 from `sim-echo` fails with that reason, not just a confusing body mismatch. A state handler
records such a problem instead of raising: the verifier retries a failed state change with
backoff for about two minutes, which would outlast the test timeout.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from pact import Verifier

from gatewright.modelsim import (
    PROVIDER,
    STATE_MODEL_EXISTS,
    STATE_MODEL_FAILS_500,
    STATE_MODEL_FAILS_503,
)
from gatewright.modelsim.service import ModelsimSettings, create_app
from gatewright.modelsim.service.engine import resolve
from gatewright.servicekit import ServiceError

REPO = Path(__file__).resolve().parents[4]
PACT_DIR = Path(os.environ.get("GATEWRIGHT_PACT_DIR", REPO / "contracts"))
# A pact's example never waits on `sim-timeout`: verification would stall for the full wait.
SIM_TIMEOUT_SECONDS = 0.05


class ProviderStates:
    """One named function per provider state (see `gatewright.modelsim.contract`)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.problems: list[str] = []

    def _reset(self) -> None:
        self.app.state.observations.clear()

    @staticmethod
    def _model(parameters: dict[str, Any] | None) -> str | None:
        model = (parameters or {}).get("model")
        return model if isinstance(model, str) else None

    def _expect(self, state: str, model: str | None, status: int) -> None:
        if model is None:
            return
        try:
            behaviour = resolve(model, timeout_seconds=SIM_TIMEOUT_SECONDS)
        except ServiceError as exc:
            self.problems.append(f"{state!r}: model {model!r} answers {exc.status_code}")
            return
        if behaviour.status != status or behaviour.kind == "bad_json":
            self.problems.append(f"{state!r}: model {model!r} does not answer {status}")

    def model_exists(self, parameters: dict[str, Any] | None) -> None:
        self._reset()
        self._expect(STATE_MODEL_EXISTS, self._model(parameters), 200)

    def model_fails_503(self, parameters: dict[str, Any] | None) -> None:
        self._reset()
        self._expect(STATE_MODEL_FAILS_503, self._model(parameters), 503)

    def model_fails_500(self, parameters: dict[str, Any] | None) -> None:
        self._reset()
        self._expect(STATE_MODEL_FAILS_500, self._model(parameters), 500)

    def handlers(self) -> dict[str, Any]:
        return {
            STATE_MODEL_EXISTS: self.model_exists,
            STATE_MODEL_FAILS_503: self.model_fails_503,
            STATE_MODEL_FAILS_500: self.model_fails_500,
        }


def _close_callback_servers(verifier: Verifier) -> None:
    """pact-python 4.2 stops its state-callback HTTP server with `shutdown()` but never calls
    `server_close()`, leaking the listening socket (a ResourceWarning, an error under our strict
    warnings). Close it here; `getattr` keeps this harmless once pact-python fixes it."""
    for attr in ("_state_handler", "_message_producer"):
        server = getattr(getattr(verifier, attr, None), "_server", None)
        if server is not None:
            server.server_close()


def _state_problems(states: ProviderStates) -> str:
    if not states.problems:
        return ""
    lines = "".join(f"  - {p}\n" for p in states.problems)
    return f"provider states whose model does not behave as the state says:\n{lines}"


def pact_files() -> list[Path]:
    """Every pact in the pact dir whose provider is modelsim."""
    files = []
    for path in sorted(PACT_DIR.glob("*.json")):
        content = json.loads(path.read_text())
        if content.get("provider", {}).get("name") == PROVIDER:
            files.append(path)
    return files


@pytest.fixture(scope="module")
def provider() -> Iterator[tuple[str, ProviderStates]]:
    app = create_app(ModelsimSettings(sim_timeout_seconds=SIM_TIMEOUT_SECONDS))
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
            raise RuntimeError("modelsim did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", ProviderStates(app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_modelsim_honours_its_pacts(provider: tuple[str, ProviderStates]) -> None:
    files = pact_files()
    if not files:
        pytest.fail(
            f"no pact names provider {PROVIDER} in {PACT_DIR}: the gateway's consumer test "
            "writes contracts/gateway-modelsim.json; run it first"
        )
    url, states = provider
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
            f"pact verification failed:\n{_state_problems(states)}"
            f"{verifier.output(strip_ansi=True)}"
        )
    finally:
        _close_callback_servers(verifier)
    if states.problems:
        pytest.fail(f"{_state_problems(states)}{verifier.output(strip_ansi=True)}")
    results = verifier.results
    assert results.get("result") is True, verifier.output(strip_ansi=True)
