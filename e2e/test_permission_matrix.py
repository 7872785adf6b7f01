"""Every cell of the permission matrix, proved where it is enforced, as each role meets it.

The table is identity's own (`gatewright.identity.PERMISSION_MATRIX`, shipped with its client), so
a permission added there without a probe here fails `test_every_permission_has_a_probe`. Each
probe does, through the client of the service that enforces the permission, one thing that needs
exactly that permission; every role of a fresh org (and a non-member) tries it, and the outcome
must be what the matrix says: done, or a 403 `permission_denied` naming the role and the
permission that changed nothing. The invariants around roles (an org always keeps an owner; an
admin cannot grant owner) close the file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from gatewright.audit import Client as AuditClient
from gatewright.budgets import Client as BudgetsClient
from gatewright.core import Conflict, NotFound, PermissionDenied
from gatewright.gateway import Client as GatewayClient
from gatewright.gitops import Client as GitopsClient
from gatewright.identity import PERMISSION_MATRIX, ROLES, Org, Permission
from gatewright.testkit import Harness

from .actors import Actor, Join
from .gateway_fixtures import INPUT_PRICE, OUTPUT_PRICE

pytestmark = pytest.mark.authz

WHO = (*ROLES, "outsider")


@dataclass
class Cast:
    """One fresh org with a person per role, an outsider, and the admin who made it."""

    gw: Harness
    org: Org
    admin: Actor
    people: dict[str, Actor]

    def client(self, service: str, who: str) -> Any:
        """`who`'s client of `service` (identity's is the actor's own)."""
        actor = self.people[who]
        if service == "identity":
            return actor.client
        cls = {
            "budgets": BudgetsClient,
            "audit": AuditClient,
            "gateway": GatewayClient,
            "gitops": GitopsClient,
        }[service]
        client = cls(**self.gw.client_kwargs(service, token=actor.client.token))
        self.gw.cleanup.release(f"close {who}'s {service} client", client.close)
        return client


Probe = Callable[[Cast, str], object]


def _org_delete(cast: Cast, who: str) -> object:
    # The cast's own org: the owner goes last (see the test), so the others meet a live org.
    return cast.client("identity", who).orgs.delete(cast.org.id)


def _members_manage(cast: Cast, who: str) -> object:
    viewer = cast.people["viewer"]  # set to the role it has: allowed means a no-op change
    return cast.client("identity", who).members.update(cast.org.id, viewer.user_id, "viewer")


def _members_invite(cast: Cast, who: str) -> object:
    email = cast.gw.names.email(f"invitee-{who}")
    return cast.client("identity", who).invitations.create(cast.org.id, email=email, role="viewer")


def _keys_revoke(cast: Cast, who: str) -> object:
    key = cast.admin.client.keys.create(cast.org.id, name=cast.gw.names.name(f"revoke-{who}"))
    return cast.client("identity", who).keys.revoke(cast.org.id, key.id)


def _routes_manage(cast: Cast, who: str) -> object:
    alias = cast.gw.names.name(f"route-{who}")
    return cast.client("gateway", who).routes.put(
        alias,
        org_id=cast.org.id,
        backends=[{"url": cast.gw.url("modelsim"), "model": "sim-echo"}],
        input_micro_usd_per_mtok=INPUT_PRICE,
        output_micro_usd_per_mtok=OUTPUT_PRICE,
    )


def _gitops_manage(cast: Cast, who: str) -> object:
    # An Application of the cast's org; its repository does not exist, so its reconcile only
    # reports a failed fetch and touches nothing live.
    name = cast.gw.names.name(f"app-{who}")
    gitops = cast.client("gitops", who)
    app = gitops.applications.create(
        name, repo_url=f"/nonexistent/{name}", org_id=cast.org.id, poll_interval_seconds=86_400
    )
    cast.gw.cleanup.add(f"delete application {name}", lambda: gitops.applications.delete(name))
    return app


PROBES: dict[Permission, tuple[str, Probe]] = {
    "org:read": ("identity", lambda c, w: c.client("identity", w).orgs.get(c.org.id)),
    "org:delete": ("identity", _org_delete),
    "members:read": ("identity", lambda c, w: c.client("identity", w).members.list(c.org.id)),
    "members:invite": ("identity", _members_invite),
    "members:manage": ("identity", _members_manage),
    "keys:create": (
        "identity",
        lambda c, w: c.client("identity", w).keys.create(c.org.id, name=c.gw.names.name(w)),
    ),
    "keys:read": ("identity", lambda c, w: c.client("identity", w).keys.list(c.org.id)),
    "keys:revoke": ("identity", _keys_revoke),
    "budgets:set": (
        "budgets",
        lambda c, w: c.client("budgets", w).budgets.set_org(
            c.org.id, limit_micro_usd=1_000_000, period="monthly"
        ),
    ),
    "budgets:read": ("budgets", lambda c, w: c.client("budgets", w).spend.get(c.org.id)),
    "audit:read": ("audit", lambda c, w: c.client("audit", w).events.list(c.org.id)),
    "routes:manage": ("gateway", _routes_manage),
    "gitops:manage": ("gitops", _gitops_manage),
}


def test_every_permission_has_a_probe() -> None:
    assert set(PROBES) == set(PERMISSION_MATRIX), "a permission without a probe goes unproved"


# The cells PLATFORM.md promises, written from the design rather than read from identity's table:
# the flows below prove whatever the table says, so a wrong cell in the table itself (a viewer
# granted budgets:set) would pass them all (found by `nox -s mutants`, decision 19).
PROMISED: dict[Permission, set[str]] = {
    "keys:create": {"owner", "admin", "member"},
    "members:invite": {"owner", "admin"},
    "budgets:set": {"owner", "admin"},
    "audit:read": {"owner", "admin"},
    "org:delete": {"owner"},
}


WRITES = sorted(p for p in PERMISSION_MATRIX if not p.endswith(":read"))


def test_the_cells_the_platform_promises_hold_live(gw: Harness, cast: Cast) -> None:
    # Probed on the platform, not read from identity's table: a wrong cell fails here with the
    # request that proved it. org:delete deletes the org, so it comes last.
    for permission in sorted(PROMISED, key=lambda p: p == "org:delete"):
        if permission == "org:delete":
            # A viewer reads and changes nothing: every write the design does not list above is
            # refused to a viewer too.
            for write in (w for w in WRITES if w not in PROMISED):
                prove(gw, cast, write, allowed=set(), who=("viewer",))
        prove(gw, cast, permission, allowed=PROMISED[permission], who=WHO)


def _delete_unless_gone(admin: Actor, org: Org) -> None:
    with contextlib.suppress(NotFound):  # the org:delete probe's owner deleted it, as it should
        admin.client.orgs.delete(org.id)


@pytest.fixture
def cast(gw: Harness, admin: Actor, join: Join) -> Cast:
    with gw.given("an org of this test's own (its org:delete probe deletes it)"):
        org = admin.client.orgs.create(gw.names.name("org"))
    gw.cleanup.add(f"delete org {org.id} unless deleted", lambda: _delete_unless_gone(admin, org))
    people = {role: join(org, role, role) for role in ROLES}
    # An outsider: a member of another org only, with a valid token.
    elsewhere = admin.client.orgs.create(gw.names.name("elsewhere"))
    gw.cleanup.add(f"delete org {elsewhere.id}", lambda: admin.client.orgs.delete(elsewhere.id))
    people["outsider"] = join(elsewhere, "owner", "outsider")
    return Cast(gw, org, admin, people)


@pytest.mark.parametrize("permission", sorted(PERMISSION_MATRIX))
def test_each_role_may_do_exactly_what_the_matrix_says(
    gw: Harness, cast: Cast, permission: Permission
) -> None:
    prove(gw, cast, permission, allowed=set(PERMISSION_MATRIX[permission]), who=WHO)


def prove(
    gw: Harness, cast: Cast, permission: Permission, *, allowed: set[str], who: Sequence[str]
) -> None:
    """Each of `who` tries `permission` through its enforcing service: those in `allowed`
    succeed, every other one gets 403 naming the permission and their role."""
    service, probe = PROBES[permission]
    # org:delete succeeds once, for the owner: try it last, so the others meet a live org.
    order = sorted(who, key=lambda w: w == "owner") if permission == "org:delete" else who
    for person in order:
        if person in allowed:
            with gw.then(f"{person} may {permission} ({service})"):
                probe(cast, person)
        else:
            with gw.then(f"{person} may not {permission}: 403 from {service}"):
                with pytest.raises(PermissionDenied) as denied:
                    probe(cast, person)
                assert denied.value.code == "permission_denied"
                assert permission in denied.value.message
                role = "none" if person == "outsider" else person
                assert f"'{role}'" in denied.value.message


def test_an_org_always_keeps_an_owner_and_admins_cannot_grant_owner(
    gw: Harness, cast: Cast
) -> None:
    owner, admin_member = cast.people["owner"], cast.people["admin"]
    with gw.then("an admin cannot make anyone an owner"), pytest.raises(PermissionDenied):
        admin_member.client.members.update(cast.org.id, cast.people["member"].user_id, "owner")
    with gw.then("an admin cannot invite an owner"), pytest.raises(PermissionDenied):
        admin_member.client.invitations.create(
            cast.org.id, email=gw.names.email("would-be-owner"), role="owner"
        )
    with gw.when("the admin who created the org steps down, leaving one owner"):
        cast.admin.client.members.remove(cast.org.id, cast.admin.user_id)
    with gw.then("the last owner cannot demote or remove themself: 409 last_owner"):
        with pytest.raises(Conflict) as demote:
            owner.client.members.update(cast.org.id, owner.user_id, "admin")
        assert demote.value.code == "last_owner"
        with pytest.raises(Conflict) as leave:
            owner.client.members.remove(cast.org.id, owner.user_id)
        assert leave.value.code == "last_owner"
