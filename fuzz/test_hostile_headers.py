"""Malformed credentials on every operation that needs one: a 401 with the envelope, never more.

Each operation of the live OpenAPI whose credential is not `NONE` (`world.credential_for`) gets
an `Authorization` of every wrong shape (`MALFORMED`): tokens too long for what identity reads,
JWTs with `alg: none`, an odd `kid` or header, base64 that is not, another scheme, no scheme. Path
parameters are the world's IDs and a body operation sends its valid template, so the token is
the only thing wrong.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gatewright.testkit import Harness, redact_text

from .bodies import templates
from .bounds import Budget
from .world import SERVICES, Credential, World, credential_for

TIMEOUT = 10.0


def _b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _jwt(header: Any, claims: Any, signature: str = "c2ln") -> str:
    return f"{_b64(header)}.{_b64(claims)}.{signature}"


# `Authorization` values of every wrong shape.
MALFORMED = {
    "a 600-character token": "Bearer gwk_" + "a" * 596,
    "a 60k-character token": "Bearer " + "x" * 60_000,
    "a JWT with alg none": "Bearer " + _jwt({"alg": "none", "typ": "JWT"}, {"sub": "usr_x"}, ""),
    "a JWT whose kid is an object": "Bearer " + _jwt({"alg": "EdDSA", "kid": {"a": 1}}, {"sub": 1}),
    "a JWT with a 5000-character kid": "Bearer "
    + _jwt({"alg": "EdDSA", "kid": "k" * 5000}, {"sub": "u"}),
    "an HS256 JWT": "Bearer " + _jwt({"alg": "HS256", "kid": "x"}, {"sub": "u"}),
    "a JWT whose header is a list": "Bearer " + _jwt([1, 2], {"sub": "u"}),
    "a JWT that is not base64": "Bearer eyJ!!!.eyJ!!!.x",
    "Basic credentials": "Basic dXNlcjpwYXNzd29yZA==",
    "no scheme": "gwk_0123456789abcdef",
    "the scheme alone": "Bearer",
}


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=TIMEOUT) as client:
        yield client


def _names(path: str) -> list[str]:
    return re.findall(r"{(\w+)}", path)


@pytest.mark.parametrize("service", SERVICES)
def test_malformed_credentials_are_401(
    world: World, gw: Harness, http: httpx.Client, fuzz_budget: Budget, service: str
) -> None:
    fuzz_budget.check()
    spec = http.get(f"{world.url(service)}/openapi.json").json()
    known = dict(world.known_path_values(service))
    bodies = {t.operation_id: t for t in templates(world) if t.service == service}
    tried = 0
    for raw_path, operations in spec["paths"].items():
        for method, operation in operations.items():
            op = operation["operationId"]
            if credential_for(service, op) is Credential.NONE:
                continue
            if (service, op) in {("identity", "delete_org"), ("identity", "revoke_key")}:
                known_here = {**known, "org_id": "org_fuzz_not_there"}  # never the world's
            elif (service, op) == ("gitops", "delete_application"):
                known_here = {**known, "name": "fuzz-not-there"}
            else:
                known_here = known
            path = raw_path.format_map({k: known_here.get(k, "x") for k in _names(raw_path)})
            template = bodies.get(op)
            body = json.dumps(template.body()).encode() if template else None
            for name, authorization in MALFORMED.items():
                headers = {
                    "Authorization": authorization,
                    "Content-Type": "application/json",
                    "X-Request-ID": gw.request_ids(),
                }
                response = http.request(
                    method.upper(), world.url(service) + path, content=body, headers=headers
                )
                what = redact_text(
                    f"{method.upper()} {path} ({op}) with {name}: "
                    f"{response.status_code} {response.text[:300]}"
                )
                assert response.status_code == 401, what
                error = response.json()["error"]
                assert error["code"] in ("unauthenticated", "invalid_api_key", "token_expired"), (
                    what
                )
                assert error["request_id"] == response.headers["x-request-id"], what
                tried += 1
    if not tried:
        pytest.skip(f"no operation of {service} takes credentials")
