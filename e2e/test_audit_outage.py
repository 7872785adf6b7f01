"""Nothing is lost while audit is down: events wait in each service's outbox and arrive once."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import pytest

from gatewright.audit import Client as AuditClient
from gatewright.core import PermissionDenied
from gatewright.gateway import Client as GatewayClient
from gatewright.identity import Client as IdentityClient
from gatewright.testkit import Harness

from .audit_fixtures import events_of
from .gateway_fixtures import INPUT_PRICE, OUTPUT_PRICE, say

pytestmark = pytest.mark.audit

STACK = ("audit", "identity", "budgets", "modelsim", "gateway")


# Its own stack makes it the longest flow by far: started first, the others fill the workers.
@pytest.mark.long
def test_events_made_while_audit_is_down_arrive_exactly_once(gw: Harness) -> None:
    # Stopping the run's shared audit would disturb the tests beside this one: own stack.
    with gw.private_stack(STACK) as stack, ExitStack() as clients:
        target = stack.target()
        email, password, token = target.admin_email, target.admin_password, target.service_token
        assert email
        assert password
        assert token

        def kwargs(service: str, token: str | None = None) -> dict[str, Any]:
            return gw.client_kwargs(service, token=token, target=target)

        identity = clients.enter_context(IdentityClient(**kwargs("identity")))
        routes = clients.enter_context(GatewayClient(**kwargs("gateway", token)))
        audit = clients.enter_context(AuditClient(**kwargs("audit", token)))
        with gw.given("an org with a route, on a stack of this test's own"):
            login = identity.auth.login(email, password)
            admin = identity.with_options(token=login.access_token)
            org = admin.orgs.create(gw.names.name("org"))
            # "chat" for the key; "not-allowed" exists too, outside the key's allow-list.
            for alias in ("chat", "not-allowed"):
                routes.routes.put(
                    alias,
                    org_id=org.id,
                    backends=[{"url": target.url("modelsim"), "model": "sim-echo"}],
                    input_micro_usd_per_mtok=INPUT_PRICE,
                    output_micro_usd_per_mtok=OUTPUT_PRICE,
                )

        with gw.when("audit goes down"):
            stack.stop_service("audit")
        with gw.when("meanwhile a key is issued and revoked, a completion served, one denied"):
            key = admin.keys.create(org.id, name="kept", models=["chat"])
            doomed = admin.keys.create(org.id, name="doomed")
            revoked = admin.keys.revoke(org.id, doomed.id)
            gateway = clients.enter_context(GatewayClient(**kwargs("gateway", key.secret)))
            completion = gateway.chat.completions.create(
                model="chat", messages=say("while audit sleeps"), max_tokens=2
            )
            with pytest.raises(PermissionDenied) as refused:
                gateway.chat.completions.create(
                    model="not-allowed", messages=say("nope"), max_tokens=2
                )
        with gw.when("audit comes back"):
            stack.start_service("audit")

        expected = {
            key.request_id: ("identity", "key.create", "success"),
            doomed.request_id: ("identity", "key.create", "success"),
            revoked.request_id: ("identity", "key.revoke", "success"),
            completion.request_id: ("gateway", "completion.create", "success"),
            refused.value.request_id: ("gateway", "completion.denied", "denied"),
        }
        with gw.then("every event made during the outage arrives, exactly once"):
            for rid, (service, action, outcome) in expected.items():
                events = events_of(
                    audit,
                    rid,
                    until=lambda evs, s=service, a=action: any(
                        (e.service, e.action) == (s, a) for e in evs
                    ),
                    what=f"{service} {action} of {rid}",
                )
                matching = [e for e in events if (e.service, e.action) == (service, action)]
                assert [(e.outcome, e.org_id) for e in matching] == [(outcome, org.id)]
        with gw.then("the org's chain holds each of them once, and no gap"):
            chain = list(audit.events.iterate(org.id))
            assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
            assert len({e.id for e in chain}) == len(chain)
            for rid, (service, action, outcome) in expected.items():
                copies = [
                    e
                    for e in chain
                    if (e.request_id, e.service, e.action) == (rid, service, action)
                ]
                assert [e.outcome for e in copies] == [outcome], f"{service} {action} of {rid}"
        with gw.then("a service's events keep the order of the requests that made them"):
            # What the outbox promises (servicekit.audit.outbox): an event committed before
            # another one is recorded is delivered first. Each identity request committed before
            # the next one was sent, so their order holds on every database. Nothing is promised
            # between events of transactions that overlap (PostgreSQL takes the outbox seq at
            # insert, not at commit), nor by their `time`: the gateway records a completion's
            # event after its answer is out, so it may race the next request's denial.
            keys = {("identity", "key.create"), ("identity", "key.revoke")}
            identity_order = [
                e.request_id
                for e in chain
                if (e.service, e.action) in keys and e.request_id in expected
            ]
            assert identity_order == [key.request_id, doomed.request_id, revoked.request_id]
        with gw.then("the chain verifies"):
            verdict = audit.events.verify(org.id)
            assert (verdict.ok, verdict.count) == (True, len(chain))
