"""`gatewright.testkit.pactverify`: serving an ASGI app in a thread, and provider verification.

The serving tests need uvicorn and the verification tests pact-python (the `contracts` extra):
each skips when its tool is not installed. The pact is written here, in `tmp_path`, by pact-python
itself; the provider is a tiny ASGI app holding one table of things.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from gatewright.testkit.pactverify import (
    PACT_DIR_ENV,
    PactVerificationFailed,
    default_pact_dir,
    pact_files,
    serve_in_thread,
    verify_provider,
)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

CONSUMER, PROVIDER = "testkit-consumer", "testkit-provider"
STATE = "a thing exists"


class ThingsApp:
    """`GET /things/<id>` -> `{"id": .., "name": ..}` from `things`; lifespan events recorded.

    With `required_header`, a request without that header is answered 401.
    """

    def __init__(self, *, required_header: str | None = None, fail_startup: bool = False) -> None:
        self.things: dict[str, dict[str, Any]] = {}
        self.lifespan: list[str] = []
        self.required_header = required_header
        self.fail_startup = fail_startup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        thing = self.things.get(scope["path"].removeprefix("/things/"))
        if self.required_header and self.required_header.lower() not in headers:
            status, body = 401, {"error": "unauthenticated"}
        elif thing is None:
            status, body = 404, {"error": "not found"}
        else:
            status, body = 200, thing
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.fail_startup:
                    await send({"type": "lifespan.startup.failed", "message": "no"})
                    return
                self.lifespan.append("startup")
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.lifespan.append("shutdown")
                await send({"type": "lifespan.shutdown.complete"})
                return


# -- serve_in_thread -------------------------------------------------------------------------
def test_serve_in_thread_serves_the_app_with_its_lifespan() -> None:
    pytest.importorskip("uvicorn")
    app = ThingsApp()
    app.things["1"] = {"id": "1", "name": "one"}
    with serve_in_thread(app, name="things") as url:
        assert url.startswith("http://127.0.0.1:")
        assert app.lifespan == ["startup"]
        response = httpx.get(f"{url}/things/1")
        assert response.status_code == 200
        assert response.json() == {"id": "1", "name": "one"}
    assert app.lifespan == ["startup", "shutdown"]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/things/1")


def test_serve_in_thread_says_which_app_did_not_start() -> None:
    pytest.importorskip("uvicorn")
    with (
        pytest.raises(RuntimeError, match="things did not start"),
        serve_in_thread(ThingsApp(fail_startup=True), name="things"),
    ):
        pytest.fail("the block ran although the app never started")


# -- pact files ------------------------------------------------------------------------------
def _pact_json(directory: Path, name: str, provider: str) -> Path:
    path = directory / name
    path.write_text(json.dumps({"consumer": {"name": "c"}, "provider": {"name": provider}}))
    return path


def test_pact_files_are_those_naming_the_provider(tmp_path: Path) -> None:
    b = _pact_json(tmp_path, "b.json", "p")
    a = _pact_json(tmp_path, "a.json", "p")
    _pact_json(tmp_path, "c.json", "other")
    (tmp_path / "notes.txt").write_text("not a pact")
    assert pact_files("p", tmp_path) == [a, b]
    assert pact_files("nobody", tmp_path) == []


def test_default_pact_dir_is_the_env_else_the_nearest_contracts_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "contracts").mkdir()
    nested = tmp_path / "packages" / "x"
    nested.mkdir(parents=True)
    monkeypatch.delenv(PACT_DIR_ENV, raising=False)
    monkeypatch.chdir(nested)
    assert default_pact_dir() == (tmp_path / "contracts").resolve()
    monkeypatch.setenv(PACT_DIR_ENV, str(tmp_path / "elsewhere"))
    assert default_pact_dir() == tmp_path / "elsewhere"


# -- verify_provider -------------------------------------------------------------------------
@pytest.fixture
def pact_dir(tmp_path: Path) -> Path:
    """One pact, written by pact-python: GET /things/7 in state `a thing exists` (id, name)."""
    pact_module = pytest.importorskip("pact")
    pact = pact_module.Pact(CONSUMER, PROVIDER).with_specification("V4")
    (
        pact.upon_receiving("a request for thing 7")
        .given(STATE, {"id": "7", "name": "seven"})
        .with_request("GET", "/things/7")
        .will_respond_with(200)
        .with_body({"id": "7", "name": "seven"}, content_type="application/json")
    )
    with pact.serve(raises=True) as server:
        assert httpx.get(f"{server.url}/things/7").status_code == 200
    directory = tmp_path / "pacts"
    pact.write_file(directory, overwrite=True)
    return directory


@pytest.fixture
def app() -> ThingsApp:
    return ThingsApp()


@pytest.fixture
def url(app: ThingsApp) -> Iterator[str]:
    pytest.importorskip("uvicorn")
    with serve_in_thread(app, name="things") as base_url:
        yield base_url


def _seed(app: ThingsApp) -> Callable[[dict[str, Any] | None], None]:
    def thing_exists(parameters: dict[str, Any] | None) -> None:
        params = parameters or {}
        app.things.clear()
        app.things[params["id"]] = {"id": params["id"], "name": params["name"]}

    return thing_exists


def test_verify_provider_passes_when_the_provider_honours_the_pact(
    pact_dir: Path, app: ThingsApp, url: str
) -> None:
    verify_provider(PROVIDER, url, {STATE: _seed(app)}, pact_dir=pact_dir)
    assert app.things == {"7": {"id": "7", "name": "seven"}}


def test_verify_provider_fails_with_the_mismatch(pact_dir: Path, app: ThingsApp, url: str) -> None:
    def wrong_name(parameters: dict[str, Any] | None) -> None:
        app.things["7"] = {"id": "7", "title": "seven"}

    with pytest.raises(PactVerificationFailed) as failed:
        verify_provider(PROVIDER, url, {STATE: wrong_name}, pact_dir=pact_dir)
    message = str(failed.value)
    assert "a request for thing 7" in message
    assert "Actual map is missing the following keys: name" in message  # the verifier's own text


def test_verify_provider_records_a_raising_state_handler_and_fails_after(
    pact_dir: Path, app: ThingsApp, url: str
) -> None:
    calls: list[dict[str, Any] | None] = []

    def broken(parameters: dict[str, Any] | None) -> None:
        calls.append(parameters)
        raise ValueError("cannot seed that")

    started = time.monotonic()
    with pytest.raises(PactVerificationFailed) as failed:
        verify_provider(PROVIDER, url, {STATE: broken}, pact_dir=pact_dir)
    assert time.monotonic() - started < 30, "a raising handler must not make the verifier retry"
    message = str(failed.value)
    assert "provider states could not be set up" in message
    assert "'a thing exists': broken(" in message
    assert "ValueError('cannot seed that')" in message
    assert calls == [{"id": "7", "name": "seven"}]


def test_verify_provider_records_a_state_handler_that_calls_pytest_fail(
    pact_dir: Path, app: ThingsApp, url: str
) -> None:
    def seeded_then_fails(parameters: dict[str, Any] | None) -> None:
        _seed(app)(parameters)
        pytest.fail("the pact's parameters are not what this provider test expects")

    with pytest.raises(PactVerificationFailed, match="not what this provider test expects"):
        verify_provider(PROVIDER, url, {STATE: seeded_then_fails}, pact_dir=pact_dir)


def test_verify_provider_sends_the_extra_headers(pact_dir: Path) -> None:
    pytest.importorskip("uvicorn")
    app = ThingsApp(required_header="X-Test-Auth")
    with serve_in_thread(app, name="things") as url:
        with pytest.raises(PactVerificationFailed, match="401"):
            verify_provider(PROVIDER, url, {STATE: _seed(app)}, pact_dir=pact_dir)
        verify_provider(
            PROVIDER, url, {STATE: _seed(app)}, pact_dir=pact_dir, headers={"X-Test-Auth": "yes"}
        )


def test_verify_provider_fails_when_no_pact_names_the_provider(
    pact_dir: Path, app: ThingsApp, url: str
) -> None:
    with pytest.raises(PactVerificationFailed, match="no pact names provider 'nobody'"):
        verify_provider("nobody", url, {STATE: _seed(app)}, pact_dir=pact_dir)


@pytest.mark.parametrize(
    ("handlers", "declared", "says"),
    [
        ({}, [STATE], "declared states with no handler: ['a thing exists']"),
        ({STATE: None, "stray": None}, [STATE], "does not declare: ['stray']"),
        (
            {"other": None},
            ["other"],
            "the pacts name that testkit-provider does not declare: ['a thing exists']",
        ),
    ],
    ids=["missing-handler", "undeclared-handler", "pact-state-undeclared"],
)
def test_verify_provider_checks_the_declared_states_against_handlers_and_pacts(
    pact_dir: Path, handlers: dict[str, Any], declared: list[str], says: str
) -> None:
    with pytest.raises(PactVerificationFailed, match=re.escape(says)):
        verify_provider(
            PROVIDER, "http://127.0.0.1:9", handlers, pact_dir=pact_dir, declared=declared
        )


def test_verify_provider_passes_with_the_declared_states(
    pact_dir: Path, app: ThingsApp, url: str
) -> None:
    verify_provider(PROVIDER, url, {STATE: _seed(app)}, pact_dir=pact_dir, declared=[STATE])
