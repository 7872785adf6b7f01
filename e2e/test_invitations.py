"""Invitations are single-use and expire."""

from __future__ import annotations

import pytest

from gatewright.core import Conflict
from gatewright.identity import Client, Invitation, Org
from gatewright.testkit import Harness, Outcome, eventually

from .actors import Actor

pytestmark = pytest.mark.authz


def test_an_invitation_cannot_be_used_twice(
    gw: Harness, identity: Client, admin: Actor, org: Org
) -> None:
    email = gw.names.email("ivy")
    with gw.given("an invitation that Ivy has accepted"):
        invitation = admin.client.invitations.create(org.id, email=email, role="member")
        identity.invitations.accept(token=invitation.token, password=gw.names.password("ivy"))

    with (
        gw.when("the same token is used again, with another password"),
        pytest.raises(Conflict) as used,
    ):
        identity.invitations.accept(token=invitation.token, password=gw.names.password("eve"))
    with gw.then("it is refused as already used, and Ivy's membership is unchanged"):
        assert used.value.code == "invitation_used"
        members = [m for m in admin.client.members.list(org.id).data if m.email == email]
        assert [m.role for m in members] == ["member"]
        identity.auth.login(email, gw.names.password("ivy"))


def test_an_expired_invitation_cannot_be_used(
    gw: Harness, identity: Client, admin: Actor, org: Org
) -> None:
    email = gw.names.email("exp")
    with gw.given("an invitation that lives one second"):
        invitation = admin.client.invitations.create(
            org.id, email=email, role="member", ttl_seconds=1
        )

    def expired() -> Outcome[Invitation]:
        mine = [i for i in admin.client.invitations.list(org.id).data if i.id == invitation.id]
        if mine and mine[0].status == "expired":
            return Outcome.done(mine[0])
        status = mine[0].status if mine else "missing"
        return Outcome.pending(f"invitation status is {status}")

    with gw.when("identity reports the invitation as expired"):
        eventually(expired, description="the invitation expires", profile="settle")
    with gw.when("the invitee tries to accept it"), pytest.raises(Conflict) as refused:
        identity.invitations.accept(token=invitation.token, password=gw.names.password("exp"))
    with gw.then("it is refused as expired and nobody joined"):
        assert refused.value.code == "invitation_expired"
        assert all(m.email != email for m in admin.client.members.list(org.id).data)
