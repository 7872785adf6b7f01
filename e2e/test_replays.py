"""Replays: a caller's X-Request-ID is a label, never a ticket to a free completion.

The gateway once took the caller's request ID as the reservation's idempotency key, so a repeat
of an earlier ID rode on that reservation: served, and charged to nobody. Every completion now
holds money of its own (decision 8): one backend call per reservation, sequential or
concurrent, and the ledger and the audit log agree on what was spent.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from gatewright.audit import Client as AuditClient
from gatewright.budgets import Client as BudgetsClient
from gatewright.identity import Org
from gatewright.modelsim import Client as ModelsimClient
from gatewright.testkit import Harness

from .audit_fixtures import events_of
from .gateway_fixtures import (
    KeyMaker,
    RouteMaker,
    cost_of,
    estimate_of,
    exact_budget,
    raw_completion,
    say,
    settled_spend,
)

pytestmark = pytest.mark.budgets


def _charged(audit: AuditClient, request_id: str, served: int) -> int:
    """The cost the audit log records for the completions served under `request_id`."""
    events = events_of(
        audit,
        request_id,
        until=lambda evs: sum(e.action == "completion.create" for e in evs) >= served,
        what=f"{served} completion.create event(s) of {request_id}",
    )
    created = [e for e in events if e.action == "completion.create"]
    assert len(created) == served, [e.details for e in created]
    assert all(e.outcome == "success" for e in created)
    return sum(int(e.details["cost_micro_usd"]) for e in created)


def test_repeating_a_request_id_is_charged_like_a_new_request(
    gw: Harness,
    org: Org,
    make_route: RouteMaker,
    make_key: KeyMaker,
    budgets_admin: BudgetsClient,
    modelsim: ModelsimClient,
    service_audit: AuditClient,
) -> None:
    alias = make_route("sim-echo")
    key = make_key()
    messages = say("one and only one")
    cost, estimate = cost_of(messages, 4), estimate_of(alias, messages, 4)
    body = json.dumps({"model": alias, "messages": messages, "max_tokens": 4}).encode()
    replayed_id = gw.request_ids()
    with gw.given(f"an org budget of exactly one request's reservation ({estimate} micro-USD)"):
        budgets_admin.budgets.set_org(org.id, limit_micro_usd=estimate, period="total")
    with gw.when(f"a completion is served under X-Request-ID {replayed_id}"):
        first = raw_completion(gw, key.secret, body, request_id=replayed_id)
        assert first.status_code == 200, first.text
        settled_spend(budgets_admin, org.id, cost)
    with gw.when("the same request, same X-Request-ID, is sent three more times"):
        again = [raw_completion(gw, key.secret, body, request_id=replayed_id) for _ in range(3)]
    with gw.then("each repeat is a 402 budget_exceeded: the budget is spent"):
        assert [r.status_code for r in again] == [402] * 3, [r.text for r in again]
        assert {r.json()["error"]["code"] for r in again} == {"budget_exceeded"}
    with gw.then("the backend saw exactly one request, and ledger and audit agree on its cost"):
        assert len(modelsim.observations.list(request_id=replayed_id).data) == 1
        spend = settled_spend(budgets_admin, org.id, cost)
        assert _charged(service_audit, replayed_id, served=1) == spend.spent_micro_usd == cost


def test_concurrent_requests_sharing_a_request_id_are_each_reserved(
    gw: Harness,
    org: Org,
    make_route: RouteMaker,
    make_key: KeyMaker,
    budgets_admin: BudgetsClient,
    modelsim: ModelsimClient,
    service_audit: AuditClient,
) -> None:
    alias = make_route("sim-slow-50")
    key = make_key()
    messages = say("ten at once, one label")
    # A long completion, so that the reservation's fixed slack is small next to the charge and
    # one limit serves exactly `fits`, whatever the timing (`exact_budget`).
    cost, estimate = cost_of(messages, 200), estimate_of(alias, messages, 200)
    fits = 2
    body = json.dumps({"model": alias, "messages": messages, "max_tokens": 200}).encode()
    shared_id = gw.request_ids()
    with gw.given(f"an org budget that fits exactly {fits} requests"):
        limit = exact_budget(fits, estimate, cost)
        budgets_admin.budgets.set_org(org.id, limit_micro_usd=limit, period="total")

    async def burst() -> list[httpx.Response]:
        headers = {
            "Authorization": f"Bearer {key.secret}",
            "Content-Type": "application/json",
            "X-Request-ID": shared_id,
        }
        hooks = gw.recorder.async_hooks()
        async with httpx.AsyncClient(
            base_url=gw.url("gateway"), event_hooks=hooks, timeout=30
        ) as http:
            calls = [
                http.post("/v1/chat/completions", content=body, headers=headers) for _ in range(10)
            ]
            return list(await asyncio.gather(*calls))

    with gw.when(f"ten requests arrive at once, all with X-Request-ID {shared_id}"):
        results = asyncio.run(burst())
    with gw.then(f"exactly {fits} are served and the other eight get 402"):
        statuses = sorted(r.status_code for r in results)
        assert statuses == [200] * fits + [402] * (10 - fits), [r.text for r in results]
    with gw.then(f"the backend saw exactly {fits} requests; ledger and audit agree on the cost"):
        assert len(modelsim.observations.list(request_id=shared_id).data) == fits
        spend = settled_spend(budgets_admin, org.id, fits * cost)
        assert _charged(service_audit, shared_id, served=fits) == spend.spent_micro_usd
        assert budgets_admin.reservations.list(org.id, status="held").data == []
