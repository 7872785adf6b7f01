"""The primary flow: an org is created, a person is invited, joins, and gets a working API key."""

from __future__ import annotations

import pytest

from gatewright.identity import Client
from gatewright.testkit import Harness

from .actors import Actor

pytestmark = pytest.mark.happy


def test_invited_member_issues_a_key_that_verifies(
    gw: Harness, identity: Client, service_identity: Client, admin: Actor
) -> None:
    email = gw.names.email("dana")
    password = gw.names.password("dana")

    with gw.when("the admin creates an org"):
        org = admin.client.orgs.create(gw.names.name("acme"))
        gw.cleanup.add(f"delete org {org.id}", lambda: admin.client.orgs.delete(org.id))
    with gw.then("the admin is its owner"):
        detail = admin.client.orgs.get(org.id)
        assert [(m.user_id, m.role) for m in detail.members] == [(admin.user_id, "owner")]

    with gw.when("the admin invites Dana as a member"):
        invitation = admin.client.invitations.create(org.id, email=email, role="member")
    with gw.then("the invitation is pending for Dana's address"):
        pending = admin.client.invitations.list(org.id).data
        assert [(i.id, i.email, i.role, i.status) for i in pending] == [
            (invitation.id, email, "member", "pending")
        ]

    with gw.when("Dana accepts the invitation and logs in"):
        accepted = identity.invitations.accept(token=invitation.token, password=password)
        login = identity.auth.login(email, password)
        dana = identity.with_options(token=login.access_token)
    with gw.then("Dana is a member of the org, and the invitation is used"):
        assert (accepted.org_id, accepted.role, accepted.user_id) == (
            org.id,
            "member",
            login.user_id,
        )
        assert dana.users.me().email == email
        roles = {m.user_id: m.role for m in admin.client.members.list(org.id).data}
        assert roles == {admin.user_id: "owner", login.user_id: "member"}
        assert admin.client.invitations.list(org.id).data[0].status == "accepted"

    with gw.when("Dana issues an API key limited to one model"):
        key = dana.keys.create(org.id, name=gw.names.name("key"), models=["sim-echo"])
    with gw.then("the secret is shown once and verifies to Dana's org and models"):
        assert key.secret.startswith("gwk_")
        assert key.created_by == login.user_id
        listed = dana.keys.list(org.id).data
        assert [k.id for k in listed] == [key.id]
        assert "secret" not in listed[0].model_dump()
        verified = service_identity.keys.verify(key.secret)
        assert (verified.key_id, verified.org_id, verified.models) == (key.id, org.id, ["sim-echo"])


def test_login_answers_wrong_password_and_unknown_email_alike(
    gw: Harness, identity: Client, admin: Actor
) -> None:
    from gatewright.core import AuthenticationError

    with (
        gw.when("someone logs in with the admin's email and a wrong password"),
        pytest.raises(AuthenticationError) as wrong_password,
    ):
        identity.auth.login(admin.email, gw.names.password("wrong"))
    with (
        gw.when("someone logs in with an unknown email"),
        pytest.raises(AuthenticationError) as unknown_email,
    ):
        identity.auth.login(gw.names.email("nobody"), gw.names.password("wrong"))
    with gw.then("both get the same 401, which tells nothing about which part was wrong"):
        a, b = wrong_password.value, unknown_email.value
        assert (a.status_code, a.code, a.message) == (b.status_code, b.code, b.message)
        assert a.status_code == 401
        assert a.request_id != b.request_id
