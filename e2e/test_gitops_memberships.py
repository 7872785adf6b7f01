"""GitOps memberships: Git invites an existing account, which accepts from "my invitations".

Gitops never holds an invitation's token (decision 13), so an account accepts through
identity's `users.invitations()` / `users.accept_invitation(id)`; the next refresh finds the
member and the Application turns Healthy. A later commit changes the role in place.
"""

from __future__ import annotations

import pytest

from gatewright.gitops import Client as GitopsClient
from gatewright.identity import Client as IdentityClient
from gatewright.identity import Org, Role
from gatewright.testkit import Harness
from gatewright.testkit.gitrepo import GitRepo

from .actors import Actor, Join

pytestmark = pytest.mark.gitops


def manifests(org: str, owner: str, member: str, email: str, role: Role) -> str:
    return f"""kind: Org
metadata: {{name: {org}}}
spec: {{owner: {owner}}}
---
kind: Membership
metadata: {{name: {member}}}
spec: {{org: {org}, email: {email}, role: {role}}}
"""


def test_an_account_accepts_the_invitation_git_sent_and_the_role_follows_git(
    gw: Harness,
    admin: Actor,
    org: Org,
    join: Join,
    gitops: GitopsClient,
    config_repo: GitRepo,
    service_identity: IdentityClient,
) -> None:
    org_name, member, app_name = gw.names.name("org"), gw.names.name("pat"), gw.names.name("app")
    # An account of its own, made the way every person is: invited to another org, accepted.
    pat = join(org, "viewer", "pat")

    with gw.given("a config repository declaring an org and Pat, who is not in it, as a member"):
        text = manifests(org_name, admin.email, member, pat.email, "member")
        sha = config_repo.commit({"team/org.yaml": text}, "declare the org and Pat")

    with gw.when("an operator creates the Application for it"):
        gitops.applications.create(app_name, repo_url=config_repo.url, path="team")
        gw.cleanup.add(
            f"delete application {app_name}", lambda: gitops.applications.delete(app_name)
        )

    with gw.then("it converges Progressing: the org exists, Pat is invited, not yet a member"):
        app = gitops.applications.wait_for(
            app_name, revision=sha, sync="Synced", health="Progressing", timeout=90
        )
        inventory = {(e.kind, e.name): e.live_id for e in app.status.inventory}
        org_id = inventory[("Org", org_name)]
        gw.cleanup.add(f"delete org {org_id}", lambda: admin.client.orgs.delete(org_id))
        resources = {(r.kind, r.name): r for r in app.status.resources}
        assert resources[("Org", org_name)].status == "Synced"
        membership = resources[("Membership", member)]
        # `invited` on the reconcile that sent it, `waiting` on every one after.
        assert (membership.status, membership.action) in {
            ("Progressing", "invited"),
            ("Progressing", "waiting"),
        }
        members = service_identity.orgs.get(org_id).members
        assert [(m.email, m.role) for m in members] == [(admin.email, "owner")]

    with gw.when("Pat lists the invitations addressed to them and accepts the one from Git"):
        pending = [i for i in pat.client.users.invitations().data if i.org_id == org_id]
        assert [(i.email, i.role, i.status) for i in pending] == [(pat.email, "member", "pending")]
        accepted = pat.client.users.accept_invitation(pending[0].id)
        assert (accepted.user_id, accepted.org_id) == (pat.user_id, org_id)

    with gw.then("a refresh finds Pat a member: the Membership is Synced, the Application Healthy"):
        app = gitops.applications.wait_for(app_name, revision=sha, timeout=90)
        resources = {(r.kind, r.name): r for r in app.status.resources}
        assert resources[("Membership", member)].status == "Synced"
        assert {r.status for r in app.status.resources} == {"Synced"}
        assert _role_of(pat, org_id) == "member"
        assert pat.client.users.invitations().data == []

    with gw.when("a commit makes Pat an admin"):
        sha2 = config_repo.commit(
            {"team/org.yaml": manifests(org_name, admin.email, member, pat.email, "admin")},
            "make Pat an admin",
        )

    with gw.then("a refresh changes Pat's role live, with no new invitation"):
        app = gitops.applications.wait_for(app_name, revision=sha2, timeout=90)
        actions = {(r.kind, r.action) for r in app.status.resources}
        assert actions == {("Org", "unchanged"), ("Membership", "updated")}
        assert _role_of(pat, org_id) == "admin"
        assert pat.client.users.invitations().data == []


def _role_of(person: Actor, org_id: str) -> Role | None:
    """The person's role in the org, read as the person (a member may read its org)."""
    roles = [m.role for m in person.client.orgs.get(org_id).members if m.user_id == person.user_id]
    return roles[0] if roles else None
