"""Hostile raw bodies against every operation that takes one, on the running services.

Each property starts from `bodies.templates` (one valid request per operation) and spoils it:

- hostile values in one leaf at a time (`strategies.hostile_values`), and every edge of each
  kind (times UTC cannot hold, 2^63, NUL, 100k characters...) in every leaf of every template
  and in every query parameter of the live OpenAPI: answered 2xx or 4xx, never 5xx;
- lone surrogates in each string, `NaN`/`Infinity` in each number or in an extra field, a few
  KB of nesting, a body sent as `text/plain`, a body over the size limit (declared or chunked):
  refused with the status that says so.

Every refusal must carry the error envelope (`type`, `code`, a human `message`, the response's
`request_id`, `details`) and change nothing (`state.snapshot` before and after). Examples per
property: `--fuzz-examples` divided by ten (the request count grows with the operations, not the
examples), except for the hostile values, which send one request per example; the Hypothesis seed
is the run's (see conftest).

Every class here is closed: servicekit's request-body check refuses lone surrogates, nesting
past 64 levels, NaN/Infinity, non-JSON content types and chunked bodies over the limit before any
route runs, and audit bounds event `details` at ingest. A class that opens again fails the stage.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewright.testkit import Harness, redact_text

from . import strategies as hs
from .bodies import Template, for_service, templates
from .bounds import Budget
from .hooks import before_send
from .state import snapshot
from .world import SERVICES, World

TIMEOUT = 15.0
OVERSIZE = 8 << 20  # over every service's body limit (audit's is the largest, 2 MiB)


# -- sending and judging -----------------------------------------------------------------------
class Prober:
    """Sends spoiled requests of one service and judges each answer.

    Never a 5xx; a 4xx carries the envelope and leaves the state as it was (`state.snapshot`,
    retaken after every accepted request, which may change it); `refused=True` demands a 4xx."""

    def __init__(self, world: World, service: str, gw: Harness, http: httpx.Client) -> None:
        self.world = world
        self.service = service
        self.gw = gw
        self.http = http
        self.state = snapshot(world, service)

    def send(
        self,
        template: Template,
        content: bytes | Iterator[bytes],
        *,
        content_type: str = "application/json",
        refused: bool,
    ) -> httpx.Response:
        headers = {"Content-Type": content_type, "X-Request-ID": self.gw.request_ids()}
        headers |= template.headers_for(content if isinstance(content, bytes) else None)
        token = self.world.token(template.credential, side=True)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        url = self.world.url(template.service) + template.path
        response = self.http.request(template.method, url, content=content, headers=headers)
        what = describe(template, response)
        assert response.status_code < 500, what
        if refused:
            assert 400 <= response.status_code < 500, what
        after = snapshot(self.world, self.service)
        if response.status_code >= 400:
            assert_envelope(template, response)
            assert after == self.state, f"the refusal changed the state: {what}"
        self.state = after
        return response


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=TIMEOUT) as client:
        yield client


@pytest.fixture(autouse=True)
def _fresh_observations(world: World, http: httpx.Client) -> Iterator[None]:
    """Each test starts and leaves modelsim with no observations: what one test's hostile
    request left there is that test's finding, not the next test's."""
    http.delete(f"{world.url('modelsim')}/v1/observations")
    yield
    http.delete(f"{world.url('modelsim')}/v1/observations")


def describe(template: Template, response: httpx.Response) -> str:
    rid = response.headers.get("x-request-id", "?")
    return redact_text(
        f"{template.method} {template.path} ({template.operation_id}) -> "
        f"{response.status_code}, request {rid}: {response.text[:300]}"
    )


def assert_envelope(template: Template, response: httpx.Response) -> None:
    """A refusal: the envelope, with a human message and the response's request ID."""
    what = describe(template, response)
    assert response.headers.get("content-type", "").startswith("application/json"), what
    error = response.json().get("error")
    assert isinstance(error, dict), what
    for field in ("type", "code", "message", "request_id"):
        assert isinstance(error.get(field), str), (field, what)
        assert error[field], (field, what)
    assert isinstance(error.get("details", {}), dict), what
    assert error["request_id"] == response.headers["x-request-id"], what
    message = error["message"]
    assert re.search(r"[A-Za-z]{3}", message), what  # words, for a person
    assert len(message) <= 2000, what
    assert "Traceback" not in message, what


def planted(world: World, template: Template, body: Any) -> Any:
    return before_send(template.service, template.operation_id, body, world)


# -- the templates themselves ------------------------------------------------------------------
def test_every_body_operation_has_a_template(world: World, http: httpx.Client) -> None:
    live = set()
    for service in SERVICES:
        spec = http.get(f"{world.url(service)}/openapi.json").json()
        for operations in spec["paths"].values():
            for operation in operations.values():
                if "requestBody" in operation:
                    live.add((service, operation["operationId"]))
    assert {(t.service, t.operation_id) for t in templates(world)} == live


@pytest.mark.parametrize("service", SERVICES)
def test_the_templates_are_answered_as_expected(
    world: World, gw: Harness, http: httpx.Client, service: str
) -> None:
    """A spoiled template means something only if the template itself gets through."""
    probe = Prober(world, service, gw, http)
    for template in for_service(world, service):
        response = probe.send(template, hs.encode(template.body(), ascii=True), refused=False)
        assert response.status_code in template.expected, describe(template, response)


# -- hostile values: never a 5xx ---------------------------------------------------------------
@pytest.mark.parametrize("service", SERVICES)
@settings(settings.get_profile("fuzz-values"))
@given(data=st.data())
def test_hostile_values_are_answered_2xx_or_4xx(
    world: World,
    gw: Harness,
    http: httpx.Client,
    fuzz_budget: Budget,
    service: str,
    data: st.DataObject,
) -> None:
    """One operation, one leaf (or an extra field), one hostile value per example."""
    fuzz_budget.check()
    template = data.draw(st.sampled_from(for_service(world, service)), label="operation")
    body = template.body()
    extra = ("fuzz_extra",) if isinstance(body, dict) else ()
    path = data.draw(st.sampled_from([*hs.leaves(body), *([extra] if extra else [])]))
    edges = hs.edges_for(hs.get(body, path)) if path != extra else ()
    values = st.one_of(st.sampled_from(edges), hs.hostile_values) if edges else hs.hostile_values
    spoiled = planted(world, template, hs.replace(body, path, data.draw(values, label="value")))
    content = hs.encode(spoiled, ascii=data.draw(st.booleans(), label="ascii"))
    Prober(world, service, gw, http).send(template, content, refused=False)


# -- the edges of each kind, in every place: never a 5xx ----------------------------------------
@pytest.mark.parametrize("service", SERVICES)
def test_every_leaf_takes_the_edges_of_its_kind(
    world: World, gw: Harness, http: httpx.Client, fuzz_budget: Budget, service: str
) -> None:
    """Every time, number and string of every template, in turn, set to each edge value of its
    kind (`strategies.CALENDAR_EDGES`, `NUMBER_EDGES`, `STRING_EDGES`)."""
    fuzz_budget.check()
    probe = Prober(world, service, gw, http)
    for template in for_service(world, service):
        body = template.body()
        for path in hs.leaves(body):
            for edge in hs.edges_for(hs.get(body, path)):
                spoiled = planted(world, template, hs.replace(body, path, edge))
                if hs.get(spoiled, path) != edge:  # a URL `loopback_only` put back
                    continue
                probe.send(template, hs.encode(spoiled, ascii=True), refused=False)


def _query_edges(schema: dict[str, Any]) -> tuple[Any, ...]:
    if schema.get("format") == "date-time":
        return hs.CALENDAR_EDGES
    if schema.get("type") in ("integer", "number"):
        return hs.NUMBER_EDGES
    if schema.get("type") == "string":
        # Not the 100k one: a request line that long is refused by the HTTP server itself.
        return tuple(s for s in hs.STRING_EDGES if len(s) < 1000)
    return ()


@pytest.mark.parametrize("service", SERVICES)
def test_every_query_parameter_takes_the_edges_of_its_kind(
    world: World, gw: Harness, http: httpx.Client, fuzz_budget: Budget, service: str
) -> None:
    """Each query parameter of each operation in the live OpenAPI, in turn, set to each edge of
    its kind (path parameters are the world's IDs): a 2xx or a 4xx with the envelope."""
    fuzz_budget.check()
    spec = http.get(f"{world.url(service)}/openapi.json").json()
    known = {**world.known_path_values(service), "org_id": world.org_id}
    tried = 0
    for raw_path, operations in spec["paths"].items():
        for method, operation in operations.items():
            params = [
                p for p in operation.get("parameters", []) if p["in"] == "query" and method == "get"
            ]
            path = raw_path.format_map({k: known.get(k, "x") for k in _names(raw_path)})
            template = Template(service, operation["operationId"], "GET", path, dict)
            token = world.token(template.credential)
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            for param in params:
                for edge in _query_edges(_schema_of(param)):
                    headers["X-Request-ID"] = gw.request_ids()
                    response = http.get(
                        world.url(service) + path, params={param["name"]: edge}, headers=headers
                    )
                    assert response.status_code < 500, describe(template, response)
                    if response.status_code >= 400:
                        assert_envelope(template, response)
                    tried += 1
    if not tried:
        pytest.skip(f"{service} has no query parameters")


def _names(path: str) -> list[str]:
    return re.findall(r"{(\w+)}", path)


def _schema_of(param: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema, the non-null branch of an optional one."""
    schema: dict[str, Any] = param.get("schema", {})
    for branch in schema.get("anyOf", []):
        if branch.get("type") != "null":
            return dict(branch)
    return schema


@pytest.mark.parametrize(
    "service",
    SERVICES,
)
@given(nested=hs.nested_values)
def test_deep_values_inside_a_body_are_answered_2xx_or_4xx(
    world: World, gw: Harness, http: httpx.Client, fuzz_budget: Budget, service: str, nested: Any
) -> None:
    """Every leaf of every template, in turn, replaced by hundreds of nested levels."""
    fuzz_budget.check()
    probe = Prober(world, service, gw, http)
    for template in for_service(world, service):
        body = template.body()
        for path in hs.leaves(body):
            spoiled = planted(world, template, hs.replace(body, path, nested))
            if hs.get(spoiled, path) != nested:  # a URL `loopback_only` put back
                continue
            probe.send(template, hs.encode(spoiled, ascii=True), refused=False)


# -- the classes the body middleware refuses ---------------------------------------------------
# Each example sends every template, spoiled in every place the class can hide, so a class
# that opened again fails on every run.
@pytest.mark.parametrize("service", SERVICES)
@given(lone=hs.lone_surrogates, ascii_=st.booleans())
def test_lone_surrogates_are_refused(
    world: World,
    gw: Harness,
    http: httpx.Client,
    fuzz_budget: Budget,
    service: str,
    lone: str,
    ascii_: bool,
) -> None:
    fuzz_budget.check()
    probe = Prober(world, service, gw, http)
    for template in for_service(world, service):
        body = template.body()
        for path in hs.string_leaves(body):
            spoiled = planted(world, template, hs.replace(body, path, lone))
            if hs.get(spoiled, path) != lone:  # a URL `loopback_only` put back
                continue
            probe.send(template, hs.encode(spoiled, ascii=ascii_), refused=True)


@pytest.mark.parametrize("service", SERVICES)
@given(deep=hs.deep_json)
def test_deeply_nested_json_is_refused(
    world: World, gw: Harness, http: httpx.Client, fuzz_budget: Budget, service: str, deep: bytes
) -> None:
    fuzz_budget.check()
    probe = Prober(world, service, gw, http)
    for template in for_service(world, service):
        probe.send(template, deep, refused=True)


@pytest.mark.parametrize("service", SERVICES)
@given(token=hs.non_finite)
def test_nan_and_infinity_are_refused(
    world: World, gw: Harness, http: httpx.Client, fuzz_budget: Budget, service: str, token: str
) -> None:
    fuzz_budget.check()
    probe = Prober(world, service, gw, http)
    for template in for_service(world, service):
        body = planted(world, template, template.body())
        extra = [("fuzz_extra",)] if isinstance(body, dict) else []
        for path in [*hs.number_leaves(body), *extra]:
            probe.send(template, hs.with_token(body, path, token), refused=True)


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_a_body_that_is_not_json_is_415(
    world: World, gw: Harness, http: httpx.Client, service: str, content_type: str
) -> None:
    probe = Prober(world, service, gw, http)
    for template in for_service(world, service):
        content = hs.encode(planted(world, template, template.body()), ascii=True)
        response = probe.send(template, content, content_type=content_type, refused=True)
        assert response.status_code == 415, describe(template, response)


@pytest.mark.parametrize("service", SERVICES)
def test_an_oversized_body_with_its_length_declared_is_413(
    world: World, gw: Harness, http: httpx.Client, service: str
) -> None:
    probe = Prober(world, service, gw, http)
    for template in for_service(world, service):
        response = probe.send(template, b" " * OVERSIZE, refused=True)
        assert response.status_code == 413, describe(template, response)


def _chunks(total: int, size: int = 64 << 10) -> Iterator[bytes]:
    yield b'{"padding": "'
    for _ in range(total // size):
        yield b"x" * size
    yield b'"}'


@pytest.mark.parametrize(
    "service",
    SERVICES,
)
def test_a_chunked_body_over_the_limit_is_413(
    world: World, gw: Harness, http: httpx.Client, service: str
) -> None:
    probe = Prober(world, service, gw, http)
    for template in for_service(world, service):
        response = probe.send(template, _chunks(OVERSIZE), refused=True)
        assert response.status_code == 413, describe(template, response)
