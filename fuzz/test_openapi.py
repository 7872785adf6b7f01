"""Schemathesis over each service's live `/openapi.json`: every operation, bounded examples.

A case fails on a 5xx (`not_a_server_error`), a status its operation does not document
(`status_code_conformance`), a content type it does not document (`content_type_conformance`),
a body that does not match the documented schema (`response_schema_conformance`), or a 2xx to a
request the schema says is invalid (`negative_data_rejection`: bad input always gets a 4xx). Each
operation is a subtest (`test_openapi[<service>][<METHOD> <path>]`); a failure prints the
request as a curl line and the seed that reproduces it.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from schemathesis import BaseSchema, Case, Config
from schemathesis.core import NotSet

from gatewright.testkit import Harness

from . import hooks
from .bounds import Budget
from .world import SERVICES, World

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
)
REQUEST_TIMEOUT = 10.0


def config(*, seed: int, examples: int) -> Config:
    return Config.from_dict(
        {
            "seed": seed,
            # No shrinking and no example database: bounded time, nothing written to disk.
            "generation": {"max-examples": examples, "no-shrink": True, "database": "none"},
            "phases": {"stateful": {"enabled": False}},
            "checks": {"enabled": False} | {name: {"enabled": True} for name in CHECKS},
            "request-timeout": REQUEST_TIMEOUT,
        }
    )


@pytest.fixture(params=SERVICES)
def api_schema(
    request: pytest.FixtureRequest, world: World, fuzz_seed: int, fuzz_examples: int
) -> BaseSchema:
    service: str = request.param
    base = world.url(service)
    schema = schemathesis.openapi.from_url(
        f"{base}/openapi.json", config=config(seed=fuzz_seed, examples=fuzz_examples)
    )
    schema.config.update(base_url=base)
    hooks.install(schema, service, world)
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_openapi(case: Case[Any], world: World, fuzz_budget: Budget, gw: Harness) -> None:
    fuzz_budget.check()
    service = str(case.operation.schema.raw_schema["info"]["title"])  # servicekit: the name
    op = str(case.operation.definition.raw.get("operationId", ""))
    headers = world.headers(service, op, gw.request_ids())
    if not isinstance(case.body, NotSet):
        case.body = hooks.before_send(service, op, case.body, world)
    case.call_and_validate(headers=headers, timeout=REQUEST_TIMEOUT)
