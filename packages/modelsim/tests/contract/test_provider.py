"""Provider contract: modelsim, alone and in-process, verifies every pact that names it.

modelsim has no consumer pact of its own; the gateway's `contracts/gateway-modelsim.json` says
what the gateway needs from any OpenAI-compatible backend. The app comes from
`create_app(settings)`, served in-process by `gatewright.testkit.pactverify.serve_in_thread` and
verified by `verify_provider` (every pact in the pact dir naming modelsim; `GATEWRIGHT_PACT_DIR`,
default `contracts/`).

Behaviour is chosen by model name, so provider states seed nothing. Each is a small named
function that clears the observations (every interaction starts from an empty buffer) and checks
that the model the pact names really behaves as the state says, so a pact that asks for a
503 from `sim-echo` fails with that reason, not just a confusing body mismatch. A state handler
raises such a problem; `verify_provider` records it instead of passing it on (the verifier
retries a failed state change with backoff for about two minutes, which would outlast the test
timeout) and the test fails with the list after verification.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from gatewright.modelsim import (
    PROVIDER,
    STATE_MODEL_EXISTS,
    STATE_MODEL_FAILS_500,
    STATE_MODEL_FAILS_503,
)
from gatewright.modelsim.contract import ALL_STATES
from gatewright.modelsim.service import ModelsimSettings, create_app
from gatewright.modelsim.service.engine import resolve
from gatewright.servicekit import ServiceError
from gatewright.testkit.pactverify import serve_in_thread, verify_provider

# A pact's example never waits on `sim-timeout`: verification would stall for the full wait.
SIM_TIMEOUT_SECONDS = 0.05


class StateMismatch(Exception):
    """The model a provider state names does not behave as the state says."""


class ProviderStates:
    """One named function per provider state (see `gatewright.modelsim.contract`)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

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
            raise StateMismatch(f"{state!r}: model {model!r} answers {exc.status_code}") from exc
        if behaviour.status != status or behaviour.kind == "bad_json":
            raise StateMismatch(f"{state!r}: model {model!r} does not answer {status}")

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


@pytest.fixture(scope="module")
def provider() -> Iterator[tuple[str, ProviderStates]]:
    app = create_app(ModelsimSettings(sim_timeout_seconds=SIM_TIMEOUT_SECONDS))
    with serve_in_thread(app, name="modelsim") as url:
        yield url, ProviderStates(app)


def test_modelsim_honours_its_pacts(provider: tuple[str, ProviderStates]) -> None:
    url, states = provider
    verify_provider(PROVIDER, url, states.handlers(), declared=ALL_STATES)
