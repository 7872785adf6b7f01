"""What an audit event says: each completion's outcome and figures, as a reader trusts them.

Counting events proves little; these flows read each event's fields against what the caller saw
and what the budgets ledger charged for the same request ID: a completion every backend failed is
`error` with each attempt (backend, model, status); a served one carries the backend's usage and
a cost equal to the ledger's charge; a budget refusal is `denied` with the limit, the spend and
the amount asked.
"""

from __future__ import annotations

import pytest

from gatewright.audit import Client as AuditClient
from gatewright.audit import Event
from gatewright.budgets import Client as BudgetsClient
from gatewright.core import BudgetExceeded, RetryPolicy, ServiceUnavailable
from gatewright.identity import Org
from gatewright.testkit import Harness

from .audit_fixtures import events_of
from .gateway_fixtures import (
    KeyMaker,
    RouteMaker,
    charge_of,
    cost_of,
    estimate_of,
    say,
    settled_spend,
)

pytestmark = pytest.mark.audit


def _one(events: list[Event], action: str) -> Event:
    matching = [e for e in events if e.action == action]
    assert len(matching) == 1, [(e.service, e.action, e.outcome) for e in events]
    return matching[0]


def test_a_completion_every_backend_failed_is_one_error_event_with_its_attempts(
    gw: Harness,
    org: Org,
    make_route: RouteMaker,
    make_key: KeyMaker,
    service_audit: AuditClient,
) -> None:
    alias = make_route("sim-fail-503", "sim-fail-500")
    key = make_key()
    with gw.when("every backend of the route fails"), pytest.raises(ServiceUnavailable) as failed:
        key.gateway.with_options(retry=RetryPolicy(max_retries=0)).chat.completions.create(
            model=alias, messages=say("nobody answers"), max_tokens=4
        )
    rid = failed.value.request_id
    with gw.then("its completion.create event is an error naming each backend tried, in order"):
        events = events_of(
            service_audit,
            rid,
            until=lambda evs: any(e.action == "completion.create" for e in evs),
            what="the failed completion's completion.create event",
        )
        event = _one(events, "completion.create")
        assert (event.service, event.outcome, event.org_id) == ("gateway", "error", org.id)
        assert (event.actor.type, event.actor.id) == ("api_key", key.id)
        assert alias in event.reason
        attempts = event.details["attempts"]
        tried = [(a["backend"], a["model"], a["outcome"]) for a in attempts]
        assert tried == [
            (gw.url("modelsim"), "sim-fail-503", "status_503"),
            (gw.url("modelsim"), "sim-fail-500", "status_500"),
        ]
        # the same attempts the caller was told about, and nothing charged
        assert attempts == failed.value.details["attempts"]
        assert event.details["cost_micro_usd"] == 0
    with gw.then("no success and no denial is recorded for that request"):
        assert [e.outcome for e in events if e.service == "gateway"] == ["error"]


def test_a_served_completion_event_carries_its_usage_and_the_ledger_charge(
    gw: Harness,
    org: Org,
    make_route: RouteMaker,
    make_key: KeyMaker,
    budgets_admin: BudgetsClient,
    service_audit: AuditClient,
) -> None:
    # A first backend that fails, then one that stops after 3 words of the 12 allowed.
    alias = make_route("sim-fail-503", "sim-short-3")
    key = make_key()
    messages = say("tell me a short story")
    with gw.when("a completion is served by the second backend, shorter than max_tokens"):
        completion = key.gateway.chat.completions.create(
            model=alias, messages=messages, max_tokens=12
        )
    usage = completion.usage
    charged = charge_of(usage.prompt_tokens, usage.completion_tokens)
    with gw.then(f"the ledger charged its reported usage ({charged} micro-USD)"):
        assert usage.completion_tokens == 3 < 12
        spend = settled_spend(budgets_admin, org.id, charged)
    with gw.then("its completion.create event has that usage, that cost and the failed attempt"):
        events = events_of(
            service_audit,
            completion.request_id,
            until=lambda evs: any(e.action == "completion.create" for e in evs),
            what="the completion's completion.create event",
        )
        event = _one(events, "completion.create")
        assert (event.outcome, event.org_id, event.actor.id) == ("success", org.id, key.id)
        d = event.details
        assert (d["prompt_tokens"], d["completion_tokens"]) == (
            usage.prompt_tokens,
            usage.completion_tokens,
        )
        assert d["cost_micro_usd"] == spend.spent_micro_usd == charged
        assert d["reserved_micro_usd"] == estimate_of(alias, messages, 12)
        assert (d["upstream_model"], d["backend"], d["attempts"]) == (
            "sim-short-3",
            gw.url("modelsim"),
            2,
        )
        assert [(a["model"], a["outcome"]) for a in d["failed_attempts"]] == [
            ("sim-fail-503", "status_503")
        ]


@pytest.mark.budgets
def test_a_budget_denial_event_has_the_limit_the_spend_and_the_amount_asked(
    gw: Harness,
    org: Org,
    make_route: RouteMaker,
    make_key: KeyMaker,
    budgets_admin: BudgetsClient,
    service_audit: AuditClient,
) -> None:
    alias = make_route("sim-echo")
    key = make_key()
    messages = say("one and then no more")
    cost, estimate = cost_of(messages, 5), estimate_of(alias, messages, 5)
    with gw.given(f"an org budget of one reservation ({estimate} micro-USD), already charged"):
        budgets_admin.budgets.set_org(org.id, limit_micro_usd=estimate, period="total")
        key.gateway.chat.completions.create(model=alias, messages=messages, max_tokens=5)
        settled_spend(budgets_admin, org.id, cost)
    with gw.when("the next completion is refused for budget"), pytest.raises(BudgetExceeded) as exc:
        key.gateway.chat.completions.create(model=alias, messages=messages, max_tokens=5)
    rid = exc.value.request_id
    with gw.then("its one event is budgets' denial with the figures the caller got"):
        events = events_of(
            service_audit,
            rid,
            until=lambda evs: any(e.action == "reservation.denied" for e in evs),
            what="the refusal's reservation.denied event",
        )
        event = _one(events, "reservation.denied")
        assert (event.service, event.outcome, event.org_id) == ("budgets", "denied", org.id)
        d = event.details
        assert d["scope"] == "org"
        figures = (d["limit_micro_usd"], d["spent_micro_usd"], d["requested_micro_usd"])
        assert figures == (estimate, cost, estimate)
        assert d["reserved_micro_usd"] == 0
        assert d["reservation_request_id"] == rid
        assert str(estimate) in event.reason
        # the denial is the request's only event: no completion was attempted
        assert [e.action for e in events] == ["reservation.denied"]
