"""Provider verification: serve an ASGI app in-process and replay every pact that names it.

A provider contract test is two calls; everything service-specific (building the app, swapping
its seams for fakes, the provider-state handlers) stays in the test::

    from gatewright.testkit.pactverify import serve_in_thread, verify_provider

    @pytest.fixture(scope="module")
    def provider(tmp_path_factory):
        app = create_app(settings)
        with serve_in_thread(app, name="identity") as url:
            yield url, ProviderStates(app)

    def test_identity_honours_its_pacts(provider):
        url, states = provider
        verify_provider(PROVIDER, url, states.handlers())

`serve_in_thread` runs any ASGI app under uvicorn in a background thread, on a socket it binds
itself (127.0.0.1:0, created with IPPROTO_TCP so asyncio sets TCP_NODELAY): no free-port race.

`verify_provider` builds a pact `Verifier` over every pact file in the pact dir whose provider
is the one named, wraps each state handler so it never raises (a raising handler makes the
verifier retry it with backoff for about two minutes: the problem is recorded instead, and the
verification fails afterwards with the list), treats an empty pact as an error, works around
pact-python 4.2 leaking its state-callback socket, and fails with the verifier's full output.

uvicorn and pact-python are imported when these functions run, not with this module: testkit is
also installed where they are not (`pip install gatewright-testkit[contracts]` brings both).
"""

from __future__ import annotations

import functools
import json
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "PACT_DIR_ENV",
    "ASGIApp",
    "PactVerificationFailed",
    "check_service_token",
    "default_pact_dir",
    "pact_files",
    "serve_in_thread",
    "verify_provider",
]

PACT_DIR_ENV = "GATEWRIGHT_PACT_DIR"
"""Environment variable naming the pact dir (default: the nearest `contracts/` above the cwd)."""

ASGIApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[MutableMapping[str, Any]]],
        Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]
"""An ASGI 3 application: `async def app(scope, receive, send)` (a FastAPI app is one)."""

StateHandler = Callable[..., None]
"""A provider-state handler: called with `parameters` (and `state`, `action` if it names them)."""


class PactVerificationFailed(AssertionError):
    """A provider does not honour its pacts, has none, or a provider state could not be set up.

    The message carries the verifier's full output (every mismatch) and every state problem.
    """


# -- serving ---------------------------------------------------------------------------------
@contextmanager
def serve_in_thread(
    app: ASGIApp,
    *,
    name: str = "the app",
    host: str = "127.0.0.1",
    startup_timeout: float = 15.0,
    shutdown_timeout: float = 10.0,
) -> Iterator[str]:
    """Serve `app` with uvicorn (lifespan on) in a daemon thread; yield its base URL.

    The listening socket is bound here before uvicorn starts, so the port is known and never
    raced for. On exit the server is asked to stop (running the app's lifespan shutdown), the
    thread is joined for up to `shutdown_timeout` seconds and the socket closed.

    Raises:
        RuntimeError: the server did not report started within `startup_timeout` seconds, or
            its thread ended first (e.g. the app's lifespan startup failed). `name` is used in
            the message.
    """
    import uvicorn  # here, not at the top: not every testkit install has uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.bind((host, 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
        server = uvicorn.Server(config)
        exit_codes: list[str | int | None] = []

        def run() -> None:
            try:
                server.run(sockets=[sock])
            except SystemExit as exc:  # uvicorn's answer to a failed lifespan startup
                exit_codes.append(exc.code)

        thread = threading.Thread(target=run, name=f"serve {name}", daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + startup_timeout
            while not server.started:  # a startup probe with a deadline, not a sync sleep
                if not thread.is_alive() or time.monotonic() > deadline:
                    why = f" (uvicorn exited with {exit_codes[0]!r})" if exit_codes else ""
                    raise RuntimeError(f"{name} did not start{why}")
                time.sleep(0.01)
            yield f"http://{host}:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=shutdown_timeout)
    finally:
        sock.close()


# -- pact files ------------------------------------------------------------------------------
def check_service_token(parameters: dict[str, Any] | None, expected: str) -> None:
    """The service-token provider state: the pact's example token must be the one the provider
    under test is configured with (it seeds nothing; a mismatch is a broken test setup)."""
    if (parameters or {}).get("service_token") != expected:
        raise ValueError("the pact's service token is not the one this provider test uses")


def default_pact_dir() -> Path:
    """`$GATEWRIGHT_PACT_DIR` if set, else the nearest `contracts/` dir at or above the cwd.

    Falls back to `<cwd>/contracts` (which then holds no pact, and verification says so).
    """
    configured = os.environ.get(PACT_DIR_ENV)
    if configured:
        return Path(configured)
    cwd = Path.cwd().resolve()
    for directory in (cwd, *cwd.parents):
        if (directory / "contracts").is_dir():
            return directory / "contracts"
    return cwd / "contracts"


def pact_files(provider: str, pact_dir: Path | None = None) -> list[Path]:
    """Every `*.json` pact in `pact_dir` (default `default_pact_dir()`) naming `provider`."""
    directory = default_pact_dir() if pact_dir is None else pact_dir
    files = []
    for path in sorted(directory.glob("*.json")):
        content = json.loads(path.read_text())
        if content.get("provider", {}).get("name") == provider:
            files.append(path)
    return files


# -- verifying -------------------------------------------------------------------------------
def pact_states(files: Collection[Path]) -> set[str]:
    """Every provider-state name the interactions of these pact files use."""
    names: set[str] = set()
    for path in files:
        for interaction in json.loads(path.read_text()).get("interactions", []):
            names.update(s["name"] for s in interaction.get("providerStates", []) if "name" in s)
    return names


def _check_states(
    provider: str, files: Collection[Path], states: Mapping[str, Any], declared: Collection[str]
) -> None:
    problems = []
    if missing := sorted(set(declared) - set(states)):
        problems.append(f"declared states with no handler: {missing}")
    if extra := sorted(set(states) - set(declared)):
        problems.append(f"handlers for states the contract module does not declare: {extra}")
    if unknown := sorted(pact_states(files) - set(declared)):
        problems.append(f"states the pacts name that {provider} does not declare: {unknown}")
    if problems:
        raise PactVerificationFailed(f"provider states of {provider!r}: " + "; ".join(problems))


def _never_raising(state: str, handler: StateHandler, problems: list[str]) -> StateHandler:
    """`handler`, recording into `problems` whatever it raises instead of raising it.

    `functools.wraps` keeps the handler's signature visible (`__wrapped__`), so pact-python
    passes it exactly the arguments (`parameters`, `state`, `action`) it names.
    """
    label = getattr(handler, "__name__", repr(handler))

    @functools.wraps(handler)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            handler(*args, **kwargs)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # pytest.fail() and friends are BaseExceptions too
            given = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
            problems.append(f"{state!r}: {label}({', '.join(given)}): {exc!r}")

    return run


def _close_callback_servers(verifier: Any) -> None:
    """pact-python 4.2 stops its state-callback HTTP server with `shutdown()` but never calls
    `server_close()`, leaking the listening socket (a ResourceWarning, an error under strict
    warnings). Close it here; `getattr` keeps this harmless once pact-python fixes it."""
    for attr in ("_state_handler", "_message_producer"):
        server = getattr(getattr(verifier, attr, None), "_server", None)
        if server is not None:
            server.server_close()


def _problems_text(problems: list[str]) -> str:
    if not problems:
        return ""
    return "provider states could not be set up:\n" + "".join(f"  - {p}\n" for p in problems)


def verify_provider(
    provider: str,
    base_url: str,
    states: Mapping[str, StateHandler],
    *,
    pact_dir: Path | None = None,
    headers: Mapping[str, str] | None = None,
    declared: Collection[str] | None = None,
) -> None:
    """Replay every pact naming `provider` against the app at `base_url`; raise if any fails.

    Args:
        provider: the provider name the pacts use (e.g. `gatewright.identity.PROVIDER`).
        base_url: where the provider listens, e.g. from `serve_in_thread`.
        states: provider-state name -> handler, called before each interaction that names the
            state (setup only, no teardown). A handler takes `parameters: dict | None` (and may
            also name `state` and `action`). It may raise: the exception is recorded, never
            passed to the verifier, and the verification fails afterwards with every problem.
        pact_dir: where the pact files are (default `default_pact_dir()`).
        headers: extra headers sent with every replayed request.
        declared: the provider states the package declares (its `contract.ALL_STATES`): the
            handlers must be exactly these, and every state the pacts name must be one of them,
            so a state renamed on one side, or a handler nobody declared, fails here by name.

    Raises:
        PactVerificationFailed: no pact names the provider; an interaction does not match (the
            message is the verifier's full output, mismatches included); or a state handler
            raised.
    """
    __tracebackhide__ = True  # pytest shows the test's call, then this message
    from pact import Verifier  # here, not at the top: pact-python is the `contracts` extra

    directory = default_pact_dir() if pact_dir is None else pact_dir
    files = pact_files(provider, directory)
    if not files:
        raise PactVerificationFailed(
            f"no pact names provider {provider!r} in {directory}: run the consumer contract "
            "tests that write it (tests/contract/test_consumer*.py) first"
        )
    if declared is not None:
        _check_states(provider, files, states, declared)
    problems: list[str] = []
    handlers = {state: _never_raising(state, fn, problems) for state, fn in states.items()}
    verifier = (
        Verifier(provider, host=urlsplit(base_url).hostname or "127.0.0.1")
        .add_transport(url=base_url)
        .state_handler(handlers, teardown=False)
        .set_error_on_empty_pact(enabled=True)
    )
    if headers:
        verifier.add_custom_headers(dict(headers))
    for path in files:
        verifier.add_source(path)
    try:
        verifier.verify()
    except RuntimeError:
        raise PactVerificationFailed(
            f"pact verification of {provider!r} failed:\n"
            f"{_problems_text(problems)}{verifier.output(strip_ansi=True)}"
        ) from None
    finally:
        _close_callback_servers(verifier)
    if problems:
        raise PactVerificationFailed(
            f"pact verification of {provider!r} failed:\n"
            f"{_problems_text(problems)}{verifier.output(strip_ansi=True)}"
        )
    if verifier.results.get("result") is not True:
        raise PactVerificationFailed(
            f"pact verification of {provider!r} did not succeed:\n"
            f"{verifier.output(strip_ansi=True)}"
        )
