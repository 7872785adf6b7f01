"""Audit: every change and every denial is recorded once, linked by the request ID, never lost."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa  # noqa: TID251  # the tamper flow edits audit's database on purpose

from gatewright.audit import Client as AuditClient
from gatewright.budgets import Client as BudgetsClient
from gatewright.core import BudgetExceeded, PermissionDenied
from gatewright.identity import Org
from gatewright.testkit import AuditTrail, Harness

from .actors import Actor, Join
from .audit_fixtures import denied, events_of
from .gateway_fixtures import KeyMaker, RouteMaker, cost_of, estimate_of, say

pytestmark = pytest.mark.audit


def test_the_happy_path_is_correlated_across_services(
    gw: Harness,
    org: Org,
    admin: Actor,
    make_route: RouteMaker,
    make_key: KeyMaker,
    budgets_admin: BudgetsClient,
    service_audit: AuditClient,
) -> None:
    alias = make_route("sim-echo")
    with gw.when("the admin issues a key, sets a budget, and the key gets a completion"):
        key = make_key()
        budget = budgets_admin.budgets.set_org(org.id, limit_micro_usd=10**6, period="monthly")
        completion = key.gateway.chat.completions.create(
            model=alias, messages=say("audit me"), max_tokens=3
        )

    expected = {
        "key": (key_request_id(gw, key.id), "identity", "key.create"),
        "budget": (budget.request_id, "budgets", "budget.set"),
        "completion": (completion.request_id, "gateway", "completion.create"),
    }
    with gw.then("each request's events arrive from the service that handled it"):
        for label, (rid, service, action) in expected.items():
            events = events_of(
                service_audit,
                rid,
                until=lambda evs, s=service, a=action: any(
                    (e.service, e.action) == (s, a) for e in evs
                ),
                what=f"the {label} request's {service} {action} event",
            )
            (event,) = [e for e in events if (e.service, e.action) == (service, action)]
            assert (event.org_id, event.outcome, event.request_id) == (org.id, "success", rid)
        completion_event = next(
            e
            for e in service_audit.events.by_request_id(completion.request_id).data
            if e.action == "completion.create"
        )
        assert completion_event.actor.id == key.id
        assert completion_event.details["cost_micro_usd"] == cost_of(say("audit me"), 3)
        # what was held for it, and that the backend charged no more (decision 10)
        reserved = estimate_of(alias, say("audit me"), 3)
        assert completion_event.details["reserved_micro_usd"] == reserved
        assert completion_event.details["overrun_micro_usd"] == 0
    with gw.then("the harness's audit trail (what audit.json holds) has all three services"):
        trail = AuditTrail(gw.target).fetch(gw.recorder.request_ids)
        assert isinstance(trail, dict)
        services = {e["service"] for events in trail.values() for e in events}
        assert {"identity", "budgets", "gateway"} <= services


def key_request_id(gw: Harness, key_id: str) -> str:
    """The request ID of the exchange that created `key_id` (from the harness's recording)."""
    for exchange in gw.recorder.exchanges:
        if (
            exchange.method == "POST"
            and exchange.url.endswith("/keys")
            and key_id in (exchange.response_body or "")
        ):
            return exchange.request_id
    raise AssertionError(f"no recorded exchange created {key_id}")


def test_a_budget_denial_is_one_denied_event(
    gw: Harness,
    org: Org,
    make_route: RouteMaker,
    make_key: KeyMaker,
    budgets_admin: BudgetsClient,
    service_audit: AuditClient,
) -> None:
    alias = make_route("sim-echo")
    key = make_key()
    with gw.given("an org whose budget is spent"):
        budgets_admin.budgets.set_org(org.id, limit_micro_usd=1, period="total")
    with gw.when("a completion is denied for budget"), pytest.raises(BudgetExceeded) as exc:
        key.gateway.chat.completions.create(model=alias, messages=say("no money"), max_tokens=3)
    rid = exc.value.request_id
    with gw.then("exactly one denied event carries its request ID, org, actor and the figures"):
        events = events_of(
            service_audit, rid, until=lambda evs: bool(denied(evs)), what="the denial's event"
        )
        (event,) = denied(events)
        assert (event.org_id, event.request_id) == (org.id, rid)
        assert event.actor.type == "service"
        assert "limit 1" in event.reason
        assert event.details["requested_micro_usd"] > 1


def test_a_role_denial_is_one_denied_event(
    gw: Harness, org: Org, join: Join, service_audit: AuditClient
) -> None:
    viewer = join(org, "viewer", "val")
    with gw.when("a viewer tries to issue a key"), pytest.raises(PermissionDenied) as exc:
        viewer.client.keys.create(org.id, name=gw.names.name("key"))
    rid = exc.value.request_id
    with gw.then("exactly one denied event names the viewer, the role and the permission"):
        events = events_of(
            service_audit, rid, until=lambda evs: bool(denied(evs)), what="the denial's event"
        )
        (event,) = denied(events)
        assert (event.org_id, event.actor.id, event.action) == (
            org.id,
            viewer.user_id,
            "authz.denied",
        )
        assert "viewer" in event.reason
        assert "keys:create" in event.reason


def test_a_member_cannot_read_the_audit_log_and_that_is_audited(
    gw: Harness, org: Org, join: Join, service_audit: AuditClient
) -> None:
    member = join(org, "member", "mel")
    as_member = AuditClient(**gw.client_kwargs("audit", token=member.client.token))
    gw.cleanup.release("close the member's audit client", as_member.close)
    with gw.when("a member asks for the org's audit log"), pytest.raises(PermissionDenied) as exc:
        as_member.events.list(org.id)
    with gw.then("it is a 403 naming audit:read, recorded as a denied event"):
        assert "audit:read" in exc.value.message
        rid = exc.value.request_id
        events = events_of(
            service_audit, rid, until=lambda evs: bool(denied(evs)), what="the denial's event"
        )
        (event,) = denied(events)
        assert (event.org_id, event.actor.id) == (org.id, member.user_id)


# Every stored field a reader trusts, and an edit of it that still reads back as a valid event:
# the chain must cover each one, not only the reason.
TAMPERING: dict[str, str] = {
    "time": "time",  # moved a day back (the SQL differs by dialect; see `tamper`)
    "service": "'budgets'",
    "actor_type": "'service'",
    "actor_id": "'usr_forged'",
    "action": "'key.revoke'",
    "target_type": "'org'",
    "target_id": "'key_forged'",
    "outcome": "'denied'",
    "reason": "'edited afterwards'",
    "request_id": "'req_forged'",
    "details": """'{"forged": true}'""",
    "prev_hash": "'" + "0" * 64 + "'",
    "hash": "'" + "f" * 64 + "'",
}


@pytest.mark.parametrize("field", list(TAMPERING))
def test_tampering_with_any_field_of_a_stored_event_is_detected(
    gw: Harness, org: Org, admin: Actor, service_audit: AuditClient, field: str
) -> None:
    audit_dir = gw.target.data_dirs.get("audit")
    if not audit_dir:
        pytest.skip("tampering needs the audit database of a local stack")
    with gw.given("an org with a few audited changes"):
        for n in range(3):
            admin.client.keys.create(org.id, name=gw.names.name(f"k{n}"))
        chain = events_of(
            service_audit,
            key_request_id_last(gw),
            until=lambda evs: bool(evs),
            what="the last key's event",
        )
        assert service_audit.events.verify(org.id).ok
    victim = chain[0]
    with gw.when(f"someone edits the {field} of event seq {victim.seq} in audit's database"):
        tamper(Path(audit_dir), victim.id, field, TAMPERING[field])
    with gw.then("verification reports that event's sequence number"):
        verdict = service_audit.events.verify(org.id)
        assert verdict.ok is False
        assert verdict.first_broken_seq == victim.seq
        assert str(victim.seq) in (verdict.reason or "")


def key_request_id_last(gw: Harness) -> str:
    creates = [e for e in gw.recorder.exchanges if e.method == "POST" and e.url.endswith("/keys")]
    return creates[-1].request_id


def tamper(audit_dir: Path, event_id: str, column: str, value_sql: str) -> None:
    """Change one stored event's `column` behind audit's back: SQL on its database, not the API.

    The database is the one the local stack gave audit: `GATEWRIGHT_DATABASE_URL` when the stack
    runs on PostgreSQL (`nox -s e2e_postgres`), else the SQLite file in audit's data dir."""
    url = os.environ.get("GATEWRIGHT_DATABASE_URL") or next(
        (f"sqlite:///{path}" for path in audit_dir.glob("*.db")), None
    )
    if url is None:
        raise AssertionError(f"no audit database in {audit_dir} and no GATEWRIGHT_DATABASE_URL")
    engine = sa.create_engine(url)
    if column == "time":  # a day earlier, in the column's own storage
        value_sql = (
            "time - interval '1 day'"
            if engine.dialect.name == "postgresql"
            else "replace(time, substr(time, 1, 4), substr(time, 1, 4) - 1)"
        )
    try:
        with engine.begin() as conn:
            schema = sa.inspect(conn)
            for table in schema.get_table_names():
                columns = {c["name"] for c in schema.get_columns(table)}
                if "event" not in table or "head" in table or not {"id", column} <= columns:
                    continue
                changed = conn.execute(
                    sa.text(f"UPDATE {table} SET {column} = {value_sql} WHERE id = :id"),  # noqa: S608
                    {"id": event_id},
                ).rowcount
                if changed == 1:
                    return
    finally:
        engine.dispose()
    raise AssertionError(f"event {event_id} not found in audit's database")
