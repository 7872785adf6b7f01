"""Role permissions, as members of an org meet them."""

from __future__ import annotations

import pytest

from gatewright.core import PermissionDenied
from gatewright.identity import Client, Org, Role
from gatewright.testkit import Harness

from .actors import Actor, Join

pytestmark = pytest.mark.authz


def test_viewer_cannot_issue_a_key(gw: Harness, org: Org, join: Join, admin: Actor) -> None:
    viewer = join(org, "viewer", "vic")

    with gw.when("the viewer tries to issue an API key"), pytest.raises(PermissionDenied) as denied:
        viewer.client.keys.create(org.id, name=gw.names.name("key"))
    with gw.then("it is a 403 permission_denied that names the role and the permission"):
        err = denied.value
        assert (err.status_code, err.code) == (403, "permission_denied")
        assert "viewer" in err.message
        assert "keys:create" in err.message
        assert err.request_id
    with gw.then("no key was created"):
        assert admin.client.keys.list(org.id).data == []


def test_org_admin_cannot_grant_owner(gw: Harness, org: Org, join: Join, admin: Actor) -> None:
    org_admin = join(org, "admin", "ada")
    member = join(org, "member", "mo")

    with (
        gw.when("the org admin invites someone as owner"),
        pytest.raises(PermissionDenied) as invite_denied,
    ):
        org_admin.client.invitations.create(org.id, email=gw.names.email("otto"), role="owner")
    with (
        gw.when("the org admin promotes a member to owner"),
        pytest.raises(PermissionDenied) as promote_denied,
    ):
        org_admin.client.members.update(org.id, member.user_id, "owner")
    with gw.then("both are refused with a message naming the owner role, and nothing changed"):
        for err in (invite_denied.value, promote_denied.value):
            assert err.code == "permission_denied"
            assert "owner" in err.message
        roles = {m.user_id: m.role for m in admin.client.members.list(org.id).data}
        assert roles[member.user_id] == "member"
        assert all(i.role != "owner" for i in admin.client.invitations.list(org.id).data)
    with gw.then("the org admin can still grant admin"):
        assert org_admin.client.members.update(org.id, member.user_id, "admin").role == "admin"


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("admin", True), ("member", True), ("viewer", False)],
)
def test_authz_check_agrees_with_the_endpoint(
    gw: Harness, org: Org, join: Join, service_identity: Client, role: Role, allowed: bool
) -> None:
    person = join(org, role, f"p-{role}")

    with gw.when(f"a service asks whether the {role} may create keys"):
        decision = service_identity.authz.check(
            subject=person.user_id, org_id=org.id, permission="keys:create"
        )
    with gw.then(f"the decision is {'allow' if allowed else 'deny'}, naming the role"):
        assert (decision.allowed, decision.role, decision.org_id) == (allowed, role, org.id)
    with gw.then("the key endpoint does what the decision said"):
        if allowed:
            assert person.client.keys.create(org.id, name=gw.names.name("k")).secret
        else:
            with pytest.raises(PermissionDenied):
                person.client.keys.create(org.id, name=gw.names.name("k"))
