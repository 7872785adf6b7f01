"""Read-ahead: a reconcile's live reads run concurrently (bounded), each read's error fails only
its own resource, and the applies keep their order (Org → Membership → Budget → Route)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from gitops_fixtures import OWNER, ConfigRepo, FakeLive

from gatewright.core import APIStatusError
from gatewright.gitops.models import ApplicationCreate
from gatewright.gitops.service import store
from gatewright.gitops.service.gitrepo import RepoCache
from gatewright.gitops.service.live import WRITES, LiveState
from gatewright.gitops.service.prefetch import MAX_READERS, Prefetched
from gatewright.gitops.service.reconcile import reconcile
from gatewright.servicekit import Database
from gatewright.servicekit.db import utcnow


def org_set(n: int) -> dict[str, str]:
    return {
        f"orgs/org-{i}.yaml": f"""kind: Org
metadata: {{name: org-{i}}}
spec: {{owner: {OWNER}}}
---
kind: Membership
metadata: {{name: org-{i}-owner}}
spec: {{org: org-{i}, email: {OWNER}, role: owner}}
---
kind: Budget
metadata: {{name: org-{i}}}
spec: {{org: org-{i}, limit_micro_usd: {1000 + i}, period: monthly}}
---
kind: Route
metadata: {{name: org-{i}-chat}}
spec:
  org: org-{i}
  alias: chat
  backends: [{{url: "http://modelsim.test", model: sim-echo}}]
  input_micro_usd_per_mtok: 1
  output_micro_usd_per_mtok: 2
"""
        for i in range(n)
    }


class Gate:
    """A `LiveState` whose budget reads return only once `parties` of them are in flight at
    once: a sequential reader breaks the barrier (its timeout) instead of passing."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=30)
        self.in_flight = 0
        self.most = 0
        self.lock = threading.Lock()

    def get_budget(self, org_id: str) -> dict[str, Any] | None:
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        try:
            self.barrier.wait()
            return {"limit_micro_usd": 1, "period": "monthly", "org": org_id}
        finally:
            with self.lock:
                self.in_flight -= 1


def test_reads_run_concurrently_and_each_result_answers_its_own_call() -> None:
    gate = Gate(MAX_READERS)
    reads = Prefetched(gate)  # type: ignore[arg-type]  # only the reads it asks for
    reads.fetch(("get_budget", (f"org_{i}",)) for i in range(3 * MAX_READERS))
    assert gate.most == MAX_READERS  # all at once, never more than the bound
    assert reads.get_budget("org_5") == {"limit_micro_usd": 1, "period": "monthly", "org": "org_5"}


def test_a_read_fetched_ahead_answers_once_then_reads_live_again(live: FakeLive) -> None:
    org_id = live.view("setup").create_org("acme", owner_email=OWNER)
    live.calls.clear()
    reads = Prefetched(live.view("r1"))
    reads.fetch([("get_budget", (org_id,))])
    assert reads.get_budget(org_id) is None
    assert reads.get_budget(org_id) is None  # a second read goes to the live state
    assert [c for _, c in live.calls] == ["get_budget", "get_budget"]


def test_an_orgs_members_answer_each_membership_until_a_write_changes_them(
    live: FakeLive,
) -> None:
    org_id = live.view("setup").create_org("acme", owner_email=OWNER)
    live.calls.clear()
    reads = Prefetched(live.view("r1"))
    reads.fetch([("list_members", (org_id,))])
    assert reads.org_exists(org_id) is True  # the members read is the org read
    for _ in range(3):  # three memberships of one org, none changing a member: one request
        assert [m.role for m in reads.list_members(org_id)] == ["owner"]
    reads.invite(org_id, email="pat@example.test", role="member")  # no member changes
    assert [m.role for m in reads.list_members(org_id)] == ["owner"]
    assert [c for _, c in live.calls] == ["list_members", "invite"]
    reads.set_role(org_id, f"usr_{OWNER}", "admin")  # a write between two reads of one org
    assert [m.role for m in reads.list_members(org_id)] == ["admin"]  # read again: sees it
    assert [c for _, c in live.calls][2:] == ["set_role", "list_members"]


def test_a_read_that_failed_ahead_raises_for_its_own_call_only(live: FakeLive) -> None:
    live.fail_on.add("get_budget")
    reads = Prefetched(live.view("r1"))
    reads.fetch([("get_budget", ("org_a",)), ("org_exists", ("org_a",))])
    assert reads.org_exists("org_a") is False
    with pytest.raises(APIStatusError, match="get_budget is down"):
        reads.get_budget("org_a")


def test_only_reads_are_fetched_ahead(live: FakeLive) -> None:
    reads = Prefetched(live.view("r1"))
    for write in sorted(WRITES):
        with pytest.raises(ValueError, match="not reads"):
            reads.fetch([(write, ("org_a",))])
    assert live.calls == []


def test_a_reconcile_applies_in_order_and_a_failed_read_fails_only_its_resources(
    tmp_path: Path, repo: ConfigRepo, live: FakeLive
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'gitops.db'}")
    db.create_all(store.metadata)
    repos = RepoCache(tmp_path / "cache", timeout_seconds=30, max_file_bytes=1 << 20, max_files=50)
    repo.commit(org_set(12))
    with db.session() as s, s.begin():
        store.create_application(
            s, body=ApplicationCreate(name="platform", repo_url=repo.url), now=utcnow()
        )

    def run() -> Any:
        with db.session() as s:
            app = store.get_application(s, name="platform")
        status = reconcile(
            app,
            db=db,
            repos=repos,
            live=live.factory,
            trigger="test",
            refresh_token=None,
            clock=utcnow,
        )
        with db.session() as s, s.begin():
            store.save_status(s, app_id=app.id, status=status)
        return status

    first = run()
    assert (first.sync, first.health) == ("Synced", "Healthy")
    rid = first.operations[0].reconcile_request_id
    # Every org first, then the budgets, then the routes (the owner's membership needs none).
    assert live.writes(rid) == ["create_org"] * 12 + ["set_budget"] * 12 + ["put_route"] * 12

    live.fail_on.add("get_route")
    live.budgets[live.org_id("org-3")]["limit_micro_usd"] = 7  # drift, not corrected (no heal)
    again = run()
    failed = {(r.kind, r.name) for r in again.resources if r.action == "failed"}
    assert failed == {("Route", f"org-{i}-chat") for i in range(12)}
    unchanged = {(r.kind, r.name) for r in again.resources if r.action == "unchanged"}
    assert ("Budget", "org-5") in unchanged
    assert ("Membership", "org-5-owner") in unchanged
    [drifted] = [r for r in again.resources if (r.kind, r.name) == ("Budget", "org-3")]
    assert (drifted.action, drifted.message) == ("would_update", "drift")
    assert live.writes(again.operations[0].reconcile_request_id) == []
    db.dispose()


def test_the_fake_live_state_is_a_live_state(live: FakeLive) -> None:
    state: LiveState = Prefetched(live.view("r1"))
    assert state.org_exists("org_nope") is False


def test_an_org_read_with_its_members_costs_one_read(live: FakeLive) -> None:
    org_id = live.view("setup").create_org("acme", owner_email=OWNER)
    live.calls.clear()
    reads = Prefetched(live.view("r1"))
    reads.fetch([("list_members", (org_id,)), ("list_members", ("org_gone",))])
    assert reads.org_exists(org_id) is True
    assert reads.org_exists("org_gone") is False  # its members read found no org
    assert [m.email for m in reads.list_members(org_id)] == [OWNER]
    assert [c for _, c in live.calls] == ["list_members", "list_members"]


def test_an_org_whose_members_read_failed_fails_with_that_error(live: FakeLive) -> None:
    live.fail_on.add("list_members")
    reads = Prefetched(live.view("r1"))
    reads.fetch([("list_members", ("org_a",))])
    with pytest.raises(APIStatusError, match="list_members is down"):
        reads.org_exists("org_a")
