"""Table-driven tests for Gatewright clients: each case through the sync and the async client.

Test-time only (respx, the caller's test dependency, is imported when a case is checked):

    CASES = [ClientCase("budgets.get_org", lambda c: c.budgets.get_org("org_1"), "GET",
                        "/v1/orgs/org_1/budget", sent=None, status=200, reply=BUDGET,
                        check=lambda r: r.limit_micro_usd == 1_000_000)]

    @pytest.fixture(params=["sync", "async"])
    def run(request) -> Runner:
        return runner(request.param, Client, AsyncClient, BASE, token="tok")

    @pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
    @respx.mock
    async def test_resource_call(run: Runner, case: ClientCase) -> None:
        await check_case(run, case, base_url=BASE, token="tok")
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from gatewright.core.client import RetryPolicy
from gatewright.core.models import APIModel

Runner = Callable[[Callable[[Any], Any]], Awaitable[Any]]
SERVER_REQUEST_ID = "req_server"


@dataclass(frozen=True)
class ClientCase:
    """One resource call, the request it must send and the reply it gets."""

    id: str
    call: Callable[[Any], Any]  # client -> result (or awaitable, on the async client)
    method: str
    path: str
    sent: dict[str, Any] | None  # the JSON body it must send; None: no body
    status: int
    reply: Any  # the JSON reply; None: an empty body
    check: Callable[[Any], bool]  # what the parsed result must satisfy
    # The query it must send (None: none at all); a repeated parameter as the list of its values.
    query: dict[str, str | list[str]] | None = None


def runner(
    flavour: Literal["sync", "async"],
    client: Callable[..., Any],
    async_client: Callable[..., Any],
    base_url: str,
    **options: Any,
) -> Runner:
    """Run one call on a fresh sync or async client (no retries: each case is one exchange).

    A stream the call returns (a generator) is read to the end, into a list."""
    options.setdefault("retry", RetryPolicy(max_retries=0))

    async def run(call: Callable[[Any], Any]) -> Any:
        if flavour == "sync":
            with client(base_url, **options) as c:
                result = call(c)
                return list(result) if inspect.isgenerator(result) else result
        async with async_client(base_url, **options) as ac:
            result = call(ac)
            if inspect.isasyncgen(result):
                return [item async for item in result]
            return await result if inspect.isawaitable(result) else result

    return run


async def check_case(run: Runner, case: ClientCase, *, base_url: str, token: str) -> None:
    """Mock the reply (inside `respx.mock`), run the call, check what went out and came back."""
    import respx

    headers = {"X-Request-ID": SERVER_REQUEST_ID}
    reply = (
        httpx.Response(case.status, json=case.reply, headers=headers)
        if case.reply is not None
        else httpx.Response(case.status, headers=headers)
    )
    route = respx.route(method=case.method, url__startswith=base_url + case.path).mock(
        return_value=reply
    )
    result = await run(case.call)
    assert case.check(result), f"{case.id}: unexpected result {result!r}"
    if isinstance(result, APIModel):
        assert result.request_id == SERVER_REQUEST_ID
    sent = route.calls.last.request
    assert sent.url.path == case.path
    assert sent.headers["Authorization"] == f"Bearer {token}"
    params = sent.url.params
    sent_query = {k: v[0] if len(v) == 1 else v for k in params for v in [params.get_list(k)]}
    assert sent_query == (case.query or {})
    if case.sent is None:
        assert sent.content == b""
    else:
        assert json.loads(sent.content) == case.sent


def public_methods(resource: Any) -> set[str]:
    """A resource's public names: a sync resource and its async twin must have the same."""
    return {name for name in dir(resource) if not name.startswith("_")}


def modules_loaded_by(module: str, prefixes: Sequence[str]) -> list[str]:
    """The modules under `prefixes` that `import module` loads in a fresh interpreter: what a
    consumer team that installs only the client would pay for (a client must load none of the
    service's)."""
    code = (
        f"import json, sys, {module}; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({tuple(prefixes)!r}))))"
    )
    result = subprocess.run(  # noqa: S603  # our interpreter, our code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded: list[str] = json.loads(result.stdout)
    return loaded
