"""`reconcile()` called directly (no scheduler, no HTTP), against a real git repository and the
fake live state: memberships by invitation, inventory and prune, conflicts between two
Applications, the reconcile's own audit events, and what each operation says it changed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from gitops_fixtures import BUDGET, MEMBER, MEMBERSHIP, ORG, OWNER, ROUTE, ConfigRepo, FakeLive
from sqlalchemy import func, select

from gatewright.gitops.models import (
    Application,
    ApplicationCreate,
    ApplicationStatus,
    ApplicationUpdate,
    ResourceStatus,
    SyncPolicy,
)
from gatewright.gitops.service import store
from gatewright.gitops.service.gitrepo import RepoCache
from gatewright.gitops.service.live import LiveState
from gatewright.gitops.service.reconcile import reconcile, reconcile_by_name
from gatewright.servicekit import Database
from gatewright.servicekit.db import utcnow

EVERYTHING = {"orgs/acme.yaml": "---\n".join([ORG, MEMBERSHIP, BUDGET, ROUTE])}


@dataclass
class Gitops:
    """The gitops service's reconcile, without its API: create, reconcile and save, read."""

    db: Database
    repos: RepoCache
    live: FakeLive
    repo: ConfigRepo

    def create(self, name: str = "platform", **policy: bool) -> None:
        body = ApplicationCreate(
            name=name, repo_url=self.repo.url, path="orgs", sync_policy=SyncPolicy(**policy)
        )
        with self.db.session() as s, s.begin():
            store.create_application(s, body=body, now=utcnow())

    def get(self, name: str = "platform") -> Application:
        with self.db.session() as s:
            return store.get_application(s, name=name)

    def reconcile(self, name: str = "platform") -> ApplicationStatus:
        app = self.get(name)
        status = reconcile(
            app,
            db=self.db,
            repos=self.repos,
            live=self.live.factory,
            trigger="test",
            refresh_token=None,
            clock=utcnow,
        )
        with self.db.session() as s, s.begin():
            assert store.save_status(s, app_id=app.id, status=status)
        return self.get(name).status

    def update(self, name: str = "platform", **policy: bool) -> None:
        with self.db.session() as s, s.begin():
            store.update_application(
                s,
                name=name,
                body=ApplicationUpdate(sync_policy=SyncPolicy(**policy)),
                now=utcnow(),
            )

    def delete(self, name: str) -> None:
        with self.db.session() as s, s.begin():
            store.delete_application(s, name=name)

    def events(self) -> list[dict[str, Any]]:
        with self.db.session() as s:
            rows = s.execute(select(store.outbox.table).order_by(store.outbox.table.c.seq))
            return [row.payload for row in rows]

    def rows(self) -> dict[str, int]:
        """Row counts of gitops's bookkeeping tables (a no-change reconcile writes none)."""
        tables = (store.inventory, store.claims, store.invitations, store.outbox.table)
        with self.db.session() as s:
            return {
                t.name: s.execute(select(func.count()).select_from(t)).scalar_one() for t in tables
            }


@pytest.fixture
def gitops(tmp_path: Path, repo: ConfigRepo, live: FakeLive) -> Iterator[Gitops]:
    db = Database(f"sqlite:///{tmp_path / 'gitops.db'}")
    db.create_all(store.metadata)
    repos = RepoCache(tmp_path / "cache", timeout_seconds=30, max_file_bytes=1 << 20, max_files=50)
    yield Gitops(db, repos, live, repo)
    db.dispose()


def by_kind(status: ApplicationStatus, kind: str) -> ResourceStatus:
    [resource] = [r for r in status.resources if r.kind == kind]
    return resource


def actions(status: ApplicationStatus) -> list[tuple[str, str, str]]:
    return [(r.kind, r.name, r.action) for r in status.resources]


# -- memberships -----------------------------------------------------------------------------
def test_a_newcomer_is_invited_once_and_synced_once_they_accept(
    gitops: Gitops, live: FakeLive, repo: ConfigRepo
) -> None:
    repo.commit(EVERYTHING)
    gitops.create()
    status = gitops.reconcile()
    member = by_kind(status, "Membership")
    assert (member.status, member.action) == ("Progressing", "invited")
    # Waiting on the invitee blocks nothing else: the rest is applied, the app is Progressing.
    assert (status.sync, status.health) == ("Synced", "Progressing")
    assert {r.kind: r.status for r in status.resources if r.kind != "Membership"} == {
        "Org": "Synced",
        "Budget": "Synced",
        "Route": "Synced",
    }
    [(invitation_id, invitation)] = live.invitations.items()
    org_id = live.org_id("acme")
    assert (invitation["org_id"], invitation["email"], invitation["role"]) == (
        org_id,
        MEMBER,
        "member",
    )
    assert invitation_id in member.message

    # Not accepted yet: later reconciles wait, they never invite again.
    again = gitops.reconcile()
    assert (by_kind(again, "Membership").action, again.health) == ("waiting", "Progressing")
    assert len(live.invitations) == 1
    assert again.operations[0].writes == 0

    live.accept(MEMBER)
    accepted = gitops.reconcile()
    assert (by_kind(accepted, "Membership").status, accepted.sync, accepted.health) == (
        "Synced",
        "Synced",
        "Healthy",
    )
    assert by_kind(accepted, "Membership").action == "unchanged"
    assert live.members[org_id][MEMBER] == "member"
    assert len(live.invitations) == 1
    entry = [e for e in accepted.inventory if e.kind == "Membership"]
    assert [(e.name, e.live_id) for e in entry] == [("acme-bob", f"{org_id}/{MEMBER}")]


def test_an_expired_invitation_is_sent_again(
    gitops: Gitops, live: FakeLive, repo: ConfigRepo
) -> None:
    live.invitation_ttl = timedelta(seconds=-1)  # identity answers with one already expired
    repo.commit(EVERYTHING)
    gitops.create()
    gitops.reconcile()
    live.invitation_ttl = timedelta(days=7)
    status = gitops.reconcile()
    member = by_kind(status, "Membership")
    assert (member.status, member.action) == ("Progressing", "invited")
    assert "expired; invited again" in member.message
    assert [i["status"] for i in live.invitations.values()] == ["pending", "pending"]
    assert len(live.writes(status.operations[0].reconcile_request_id)) == 1


def test_a_members_role_follows_git(gitops: Gitops, live: FakeLive, repo: ConfigRepo) -> None:
    repo.commit(EVERYTHING)
    gitops.create()
    gitops.reconcile()
    live.accept(MEMBER)
    gitops.reconcile()
    sha = repo.commit(
        {"orgs/acme.yaml": EVERYTHING["orgs/acme.yaml"].replace("role: member", "role: admin")}
    )
    status = gitops.reconcile()
    member = by_kind(status, "Membership")
    assert (member.action, status.revision) == ("updated", sha)
    assert [(d.field, d.live, d.desired) for d in member.diff] == [("spec.role", "member", "admin")]
    assert live.members[live.org_id("acme")][MEMBER] == "admin"
    assert status.operations[0].updated == ["Membership/acme-bob"]


def test_the_last_owner_is_never_demoted(gitops: Gitops, live: FakeLive, repo: ConfigRepo) -> None:
    demote = (
        MEMBERSHIP.replace("acme-bob", "acme-owner")
        .replace("Bob@example.test", OWNER)
        .replace("role: member", "role: admin")
    )
    repo.commit({"orgs/acme.yaml": ORG + "---\n" + demote})
    gitops.create()
    status = gitops.reconcile()
    member = by_kind(status, "Membership")
    assert (member.status, member.action) == ("OutOfSync", "failed")
    assert "last owner" in member.message
    assert [c.reason for c in status.conditions] == ["LastOwner"]
    assert status.health == "Degraded"
    assert live.members[live.org_id("acme")][OWNER] == "owner"
    assert "set_role" not in live.writes()

    # With a second owner declared (and promoted first), the demotion is allowed.
    promote = MEMBERSHIP.replace("role: member", "role: owner")
    repo.commit({"orgs/acme.yaml": "---\n".join([ORG, demote, promote])})
    gitops.reconcile()
    live.accept(MEMBER)
    status = gitops.reconcile()
    assert (status.sync, status.health) == ("Synced", "Healthy")
    assert live.members[live.org_id("acme")] == {OWNER: "admin", MEMBER: "owner"}


def test_without_automated_sync_nobody_is_invited(
    gitops: Gitops, live: FakeLive, repo: ConfigRepo
) -> None:
    repo.commit(EVERYTHING)
    gitops.create(automated=False)
    status = gitops.reconcile()
    assert by_kind(status, "Membership").action == "would_create"
    assert live.invitations == {}
    assert live.writes() == []


# -- inventory and prune ---------------------------------------------------------------------
def test_without_prune_what_left_git_is_reported_and_kept(
    gitops: Gitops, live: FakeLive, repo: ConfigRepo
) -> None:
    repo.commit(EVERYTHING)
    gitops.create()
    gitops.reconcile()
    org_id = live.org_id("acme")
    repo.commit({"orgs/acme.yaml": ORG})
    status = gitops.reconcile()
    left = [(r.kind, r.name, r.status, r.action) for r in status.resources if r.kind != "Org"]
    assert left == [
        ("Route", "acme-chat", "OutOfSync", "requires_pruning"),
        ("Budget", "acme", "OutOfSync", "requires_pruning"),
        ("Membership", "acme-bob", "OutOfSync", "requires_pruning"),
    ]
    assert status.sync == "OutOfSync"
    assert (org_id, "chat") in live.routes
    assert org_id in live.budgets
    assert status.operations[0].writes == 0
    assert {e.kind for e in status.inventory} == {"Org", "Membership", "Budget", "Route"}


def test_prune_deletes_only_inventory_entries_that_left_git_in_reverse_order(
    gitops: Gitops, live: FakeLive, repo: ConfigRepo
) -> None:
    repo.commit(EVERYTHING)
    gitops.create(prune=True)
    gitops.reconcile()
    live.accept(MEMBER)
    gitops.reconcile()
    org_id = live.org_id("acme")
    # Made outside Git: not in the inventory, so never pruned.
    live.routes[(org_id, "by-hand")] = {"backends": []}
    live.members[org_id]["carol@example.test"] = "viewer"

    repo.commit({"orgs/acme.yaml": None, "orgs/other.yaml": ORG.replace("acme", "beta")})
    status = gitops.reconcile()
    assert actions(status) == [
        ("Org", "beta", "created"),
        ("Route", "acme-chat", "pruned"),
        ("Budget", "acme", "pruned"),
        ("Membership", "acme-bob", "pruned"),
        ("Org", "acme", "pruned"),
    ]
    request_id = status.operations[0].reconcile_request_id
    assert live.writes(request_id) == [
        "create_org",
        "delete_route",
        "delete_budget",
        "remove_member",
        "delete_org",
    ]
    assert org_id not in live.orgs
    assert [(e.kind, e.name) for e in status.inventory] == [("Org", "beta")]
    assert (status.sync, status.health) == ("Synced", "Healthy")
    operation = status.operations[0]
    assert operation.created == ["Org/beta"]
    assert operation.pruned == [
        "Route/acme-chat",
        "Budget/acme",
        "Membership/acme-bob",
        "Org/acme",
    ]
    assert operation.writes == 5


def test_prune_never_touches_what_the_application_did_not_create(
    gitops: Gitops, live: FakeLive, repo: ConfigRepo
) -> None:
    repo.commit({"orgs/acme.yaml": ORG})
    gitops.create(prune=True)
    gitops.reconcile()
    org_id = live.org_id("acme")
    live.budgets[org_id] = {"limit_micro_usd": 1, "period": "daily"}  # set by hand
    live.routes[(org_id, "chat")] = {"backends": []}
    repo.commit({"orgs/acme.yaml": ORG + "---\n# a comment only\n"})
    status = gitops.reconcile()
    assert actions(status) == [("Org", "acme", "unchanged")]
    assert live.budgets[org_id] == {"limit_micro_usd": 1, "period": "daily"}
    assert (org_id, "chat") in live.routes


def test_a_renamed_manifest_keeps_its_resource(
    gitops: Gitops, live: FakeLive, repo: ConfigRepo
) -> None:
    repo.commit({"orgs/acme.yaml": ORG + "---\n" + ROUTE})
    gitops.create(prune=True)
    gitops.reconcile()
    org_id = live.org_id("acme")
    renamed = ROUTE.replace("name: acme-chat", "name: chat-route")
    repo.commit({"orgs/acme.yaml": ORG + "---\n" + renamed})
    status = gitops.reconcile()
    assert actions(status) == [("Org", "acme", "unchanged"), ("Route", "chat-route", "unchanged")]
    assert (org_id, "chat") in live.routes
    assert "delete_route" not in live.writes()
    assert {(e.kind, e.name) for e in status.inventory} == {
        ("Org", "acme"),
        ("Route", "chat-route"),
    }


# -- conflicts -------------------------------------------------------------------------------
def test_the_second_application_declaring_a_resource_reports_a_conflict(
    gitops: Gitops, live: FakeLive, repo: ConfigRepo
) -> None:
    repo.commit(EVERYTHING)
    gitops.create("first")
    gitops.create("second")
    first = gitops.reconcile("first")
    assert first.health == "Progressing"
    second = gitops.reconcile("second")
    org = by_kind(second, "Org")
    assert (org.status, org.action) == ("OutOfSync", "conflict")
    assert "Application 'first'" in org.message
    [conflict] = [c for c in second.conditions if c.type == "Conflict"]
    assert (conflict.file, conflict.document) == ("orgs/acme.yaml", 0)
    assert "'first'" in conflict.message
    assert len(live.orgs) == 1  # never applied twice
    assert second.inventory == []
    assert second.operations[0].writes == 0

    # Deleting the first releases its claims (the live resources stay); the second takes over
    # what it can name (a new org of its own: the first's org ID was the first's inventory).
    gitops.delete("first")
    assert len(live.orgs) == 1
    taken = gitops.reconcile("second")
    assert by_kind(taken, "Org").action == "created"
    assert not [c for c in taken.conditions if c.type == "Conflict"]


def test_a_route_claimed_by_another_application_is_a_conflict(
    gitops: Gitops, live: FakeLive, repo: ConfigRepo
) -> None:
    repo.commit(EVERYTHING)
    gitops.create("first")
    gitops.reconcile("first")
    with gitops.db.session() as s, s.begin():
        other = store.claim(
            s, app_id="app_other", app_name="other", kind="Route", key="acme/chat", name="x"
        )
    assert other == "first"


def test_two_concurrent_claims_of_one_resource_have_one_winner(gitops: Gitops) -> None:
    barrier = threading.Barrier(8)
    answers: list[str | None] = []

    def claim(n: int) -> None:
        barrier.wait()
        with gitops.db.session() as s, s.begin():
            answers.append(
                store.claim(
                    s, app_id=f"app_{n}", app_name=f"app-{n}", kind="Org", key="acme", name="acme"
                )
            )

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers.count(None) == 1
    [winner] = {a for a in answers if a is not None}
    assert answers.count(winner) == 7


def test_an_application_deleted_mid_reconcile_leaves_no_claim_behind(
    gitops: Gitops, live: FakeLive, repo: ConfigRepo
) -> None:
    repo.commit(EVERYTHING)
    gitops.create()

    @contextmanager
    def deleted_meanwhile(request_id: str) -> Iterator[LiveState]:
        gitops.delete("platform")  # an operator deletes it while the reconcile runs
        with live.factory(request_id) as state:
            yield state

    saved = reconcile_by_name(
        "platform",
        db=gitops.db,
        repos=gitops.repos,
        live=deleted_meanwhile,
        trigger="test",
        clock=utcnow,
    )
    assert saved.exists is False
    assert live.orgs  # it did apply before it found out
    rows = gitops.rows()
    assert (rows["gitops_claims"], rows["gitops_inventory"], rows["gitops_invitations"]) == (
        0,
        0,
        0,
    )


# -- audit and operations --------------------------------------------------------------------
def test_a_sync_is_audited_on_the_orgs_chain_with_the_revision(
    gitops: Gitops, live: FakeLive, repo: ConfigRepo
) -> None:
    sha = repo.commit(EVERYTHING)
    gitops.create()
    status = gitops.reconcile()
    request_id = status.operations[0].reconcile_request_id
    [sync] = gitops.events()
    assert (sync["action"], sync["outcome"], sync["org_id"]) == (
        "gitops.sync",
        "success",
        live.org_id("acme"),
    )
    assert (sync["actor"], sync["target"]) == (
        {"type": "service", "id": "gitops"},
        {"type": "application", "id": "platform"},
    )
    assert sync["request_id"] == request_id
    details = sync["details"]
    assert (details["application"], details["revision"], details["request_id"]) == (
        "platform",
        sha,
        request_id,
    )
    assert [(c["kind"], c["action"]) for c in details["changed"]] == [
        ("Org", "created"),
        ("Membership", "invited"),
        ("Budget", "created"),
        ("Route", "created"),
    ]
    assert "gwi_" not in str(sync)  # an invitation token never reaches an event


def test_a_no_change_reconcile_makes_zero_writes_and_no_event(
    gitops: Gitops, live: FakeLive, repo: ConfigRepo
) -> None:
    repo.commit(EVERYTHING)
    gitops.create(self_heal=True, prune=True)
    first = gitops.reconcile()
    assert live.writes() == ["create_org", "invite", "set_budget", "put_route"]
    assert first.operations[0].writes == 4
    before_rows, before_calls = gitops.rows(), len(live.calls)
    again = gitops.reconcile()
    operation = again.operations[0]
    assert (operation.writes, operation.created, operation.updated, operation.pruned) == (
        0,
        [],
        [],
        [],
    )
    assert live.writes(operation.reconcile_request_id) == []
    assert len(live.calls) > before_calls  # it did read live state
    assert gitops.rows() == before_rows  # no inventory, claim, invitation or event row


def test_drift_corrected_and_prune_are_audited_one_event_per_resource(
    gitops: Gitops, live: FakeLive, repo: ConfigRepo
) -> None:
    repo.commit(EVERYTHING)
    gitops.create(self_heal=True, prune=True)
    gitops.reconcile()
    org_id = live.org_id("acme")
    live.budgets[org_id] = {"limit_micro_usd": 1, "period": "monthly"}
    status = gitops.reconcile()
    [corrected] = [e for e in gitops.events() if e["action"] == "gitops.drift_corrected"]
    assert corrected["org_id"] == org_id
    assert corrected["details"]["kind"] == "Budget"
    assert corrected["details"]["diff"] == [
        {"field": "spec.limit_micro_usd", "live": 1, "desired": 5_000_000}
    ]
    assert corrected["request_id"] == status.operations[0].reconcile_request_id

    sha = repo.commit({"orgs/acme.yaml": "---\n".join([ORG, MEMBERSHIP])})
    gitops.reconcile()
    pruned = [e for e in gitops.events() if e["action"] == "gitops.prune"]
    assert [(e["details"]["kind"], e["details"]["name"]) for e in pruned] == [
        ("Route", "acme-chat"),
        ("Budget", "acme"),
    ]
    assert {(e["org_id"], e["details"]["revision"]) for e in pruned} == {(org_id, sha)}


def test_a_failed_sync_is_audited_once_per_failure(
    gitops: Gitops, live: FakeLive, repo: ConfigRepo
) -> None:
    sha = repo.commit({"orgs/acme.yaml": BUDGET})  # names an org no manifest declares
    gitops.create()
    gitops.reconcile()
    gitops.reconcile()  # the same failure at the same revision: not audited again
    [failed] = gitops.events()
    assert (failed["action"], failed["outcome"], failed["org_id"]) == (
        "gitops.sync_failed",
        "error",
        None,
    )
    assert failed["details"]["revision"] == sha
    assert "no Org manifest declares" in failed["reason"]

    repo.commit(EVERYTHING)
    live.fail_on.add("put_route")
    status = gitops.reconcile()
    assert status.health == "Degraded"
    [apply_failed] = [e for e in gitops.events() if e["action"] == "gitops.sync_failed"][1:]
    assert apply_failed["org_id"] == live.org_id("acme")
    assert "Route acme-chat: 503" in apply_failed["reason"]
    assert status.operations[0].writes == 4  # the failed put_route counts: it was attempted
