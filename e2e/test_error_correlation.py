"""Every error carries the request ID of the call that got it, on every service and every path.

A maintainer quoting a failure quotes its request ID; it must be the one the caller sent, in the
envelope and in the `X-Request-ID` header alike, whether the route, FastAPI's own validation,
the request-body check or the auth layer refused it. And one user action keeps one ID across
services: a completion refused by budgets is audited by budgets under the caller's ID.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gatewright.audit import Client as AuditClient
from gatewright.budgets import Client as BudgetsClient
from gatewright.identity import Org
from gatewright.testkit import Harness

from .actors import Actor
from .audit_fixtures import events_of
from .gateway_fixtures import KeyMaker, RouteMaker, cost_of, say

pytestmark = pytest.mark.audit

JSON = {"Content-Type": "application/json"}

# (service, method, path, auth, body or raw bytes, extra headers, status, code) — one per path
# that answers an error: unknown route, no credentials, validation, the body check, domain.
CASES: list[tuple[str, str, str, str, Any, dict[str, str], int, str]] = [
    ("identity", "GET", "/v1/nowhere", "none", None, {}, 404, "not_found"),
    ("identity", "GET", "/v1/orgs", "none", None, {}, 401, "unauthenticated"),
    ("identity", "POST", "/v1/auth/login", "none", {"email": 3}, {}, 422, "validation_failed"),
    (
        "identity",
        "POST",
        "/v1/auth/login",
        "none",
        b'{"email": "\\ud800"}',
        JSON,
        400,
        "invalid_json",
    ),
    ("identity", "GET", "/v1/orgs/org_0000", "admin", None, {}, 404, "org_not_found"),
    ("budgets", "GET", "/v1/orgs/{org}/budget", "admin", None, {}, 404, "budget_not_found"),
    (
        "budgets",
        "PUT",
        "/v1/orgs/{org}/budget",
        "admin",
        {"limit_micro_usd": -1},
        {},
        422,
        "validation_failed",
    ),
    ("budgets", "POST", "/v1/reservations", "admin", {}, {}, 401, "unauthenticated"),
    (
        "gateway",
        "POST",
        "/v1/chat/completions",
        "key",
        {"model": "no-such", "messages": []},
        {},
        400,
        "invalid_request",
    ),
    (
        "gateway",
        "POST",
        "/v1/chat/completions",
        "key",
        b"{}",
        {"Content-Type": "text/plain"},
        415,
        "unsupported_media_type",
    ),
    ("gateway", "GET", "/v1/models", "none", None, {}, 401, "invalid_api_key"),
    ("audit", "GET", "/v1/orgs/{org}/events", "none", None, {}, 401, "unauthenticated"),
    (
        "audit",
        "GET",
        "/v1/orgs/{org}/events",
        "admin",
        {"limit": "x"},
        {},
        422,
        "validation_failed",
    ),
    (
        "modelsim",
        "POST",
        "/v1/chat/completions",
        "none",
        {"model": ""},
        {},
        422,
        "validation_failed",
    ),
]


@pytest.mark.parametrize(
    ("service", "method", "path", "auth", "body", "headers", "status", "code"),
    CASES,
    ids=[f"{c[0]}-{c[6]}-{c[7]}" for c in CASES],
)
def test_an_error_carries_the_callers_request_id(
    gw: Harness,
    org: Org,
    admin: Actor,
    make_key: KeyMaker,
    service: str,
    method: str,
    path: str,
    auth: str,
    body: Any,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    sent = gw.request_ids()
    token = {"admin": lambda: admin.client.token, "key": lambda: make_key().secret}.get(auth)
    all_headers = {"X-Request-ID": sent, **headers}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token()}"
    kwargs: dict[str, Any] = {"headers": all_headers}
    if isinstance(body, bytes):
        kwargs["content"] = body
    elif body is not None and method == "GET":
        kwargs["params"] = body
    elif body is not None:
        kwargs["json"] = body
    url = path.replace("{org}", org.id)
    with (
        gw.when(f"{method} {service} {url} with X-Request-ID {sent}"),
        httpx.Client(
            base_url=gw.url(service), event_hooks=gw.recorder.sync_hooks(), timeout=10
        ) as http,
    ):
        response = http.request(method, url, **kwargs)
    with gw.then(f"it is {status} {code}, and the envelope and the header carry {sent}"):
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert error["code"] == code
        assert error["message"]
        assert error["request_id"] == response.headers["x-request-id"] == sent


def test_a_budget_refusal_keeps_the_callers_request_id_across_services(
    gw: Harness,
    org: Org,
    make_route: RouteMaker,
    make_key: KeyMaker,
    budgets_admin: BudgetsClient,
    service_audit: AuditClient,
) -> None:
    alias = make_route("sim-echo")
    key = make_key()
    messages = say("over the limit")
    sent = gw.request_ids()
    with gw.given("an org budget smaller than one request"):
        budgets_admin.budgets.set_org(
            org.id, limit_micro_usd=cost_of(messages, 3) - 1, period="total"
        )
    with (
        gw.when(f"a completion is sent with X-Request-ID {sent}"),
        httpx.Client(
            base_url=gw.url("gateway"), event_hooks=gw.recorder.sync_hooks(), timeout=10
        ) as http,
    ):
        response = http.post(
            "/v1/chat/completions",
            json={"model": alias, "messages": messages, "max_tokens": 3},
            headers={"X-Request-ID": sent, "Authorization": f"Bearer {key.secret}"},
        )
    with gw.then("the gateway's 402 carries it"):
        assert response.status_code == 402, response.text
        assert response.json()["error"]["request_id"] == response.headers["x-request-id"] == sent
    with gw.then("budgets audited the refusal under that same request ID"):
        events = events_of(
            service_audit,
            sent,
            until=lambda evs: any(e.action == "reservation.denied" for e in evs),
            what=f"budgets' reservation.denied under {sent}",
        )
        denied = [e for e in events if e.action == "reservation.denied"]
        assert [(e.service, e.outcome, e.org_id) for e in denied] == [("budgets", "denied", org.id)]
