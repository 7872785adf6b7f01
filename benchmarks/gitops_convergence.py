"""GitOps convergence: how long from a commit to Synced, and what a 200-org Application costs.

    python benchmarks/gitops_convergence.py [--commits 50] [--orgs 200]
        [--modes refresh,poll,webhook]

Starts the whole platform on loopback with testkit's LocalStack and commits to real git
repositories (testkit's `GitRepo`), which gitops fetches by path. Two parts:

1. **Commit to Synced**, per trigger mode: one Application (an org, its budget, a route), then N
   commits each changing the budget; after each commit the mode tells gitops (or not) and the
   bench polls the status every 10 ms until it is Synced + Healthy at that commit. p50/p95/max
   of commit-to-Synced. Modes are entries of `MODES`: `refresh` (POST .../refresh after each
   commit; polling set to an hour so it never helps), `poll` (nothing is sent; polling every
   second) and `webhook` (GitHub's push delivery for the commit, signed with the stack's
   webhook secret, through the client's `hooks.github`; polling an hour apart).
2. **Scale** (`--orgs 0` skips it): one Application of N orgs, each with two memberships (its
   owner's and a member's), a budget and a route (N files), from empty to Synced (wall time,
   from the create to Synced observed; the member is an existing account, so each org waits
   Progressing on its invitation until the member accepts all N from "my invitations", and a
   refresh then finds every org Healthy); then a refresh on unchanged Git and
   live state: the reconcile's own duration (its operation's started_at → finished_at) and a
   proof that it wrote nothing. The proof is the services' access logs: every request one
   reconcile sends carries its request ID (on the operation), so the identity, budgets and
   gateway log lines with that ID are exactly what it did; any method other than GET is a
   write. Where the time goes: those requests' count and server-side time per service, gitops'
   CPU during the reconcile, and the fetch + parse of the same repository timed in this process
   with gitops' own code.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from _common import Running, percentile, running_stack

from gatewright.gitops import Application, github_push_payload
from gatewright.gitops import Client as GitopsClient
from gatewright.identity import Client as IdentityClient
from gatewright.testkit import Outcome, Target, eventually
from gatewright.testkit.gitrepo import GitRepo

SERVICES = ("audit", "identity", "budgets", "modelsim", "gateway", "gitops")
LIVE_SERVICES = ("identity", "budgets", "gateway")
HOUR = 3600
WAIT_SECONDS = 60.0
SCALE_WAIT_SECONDS = 900.0  # hundreds of orgs on a busy 2-core machine: minutes, not seconds
STATUS_POLL_SECONDS = 0.01
IN_PROCESS_RUNS = 5  # unprofiled in-process reconciles; their median is the figure to quote


def manifests(org: str, owner: str, backend: str, limit: int, member: str | None = None) -> str:
    second = (
        f"""kind: Membership
metadata: {{name: {org}-member}}
spec: {{org: {org}, email: {member}, role: member}}
---
"""
        if member
        else ""
    )
    return f"""kind: Org
metadata: {{name: {org}}}
spec: {{owner: {owner}}}
---
kind: Membership
metadata: {{name: {org}-owner}}
spec: {{org: {org}, email: {owner}, role: owner}}
---
{second}kind: Budget
metadata: {{name: {org}}}
spec: {{org: {org}, limit_micro_usd: {limit}, period: monthly}}
---
kind: Route
metadata: {{name: {org}-chat}}
spec:
  org: {org}
  alias: chat
  backends: [{{url: "{backend}", model: sim-echo}}]
  input_micro_usd_per_mtok: 1000000
  output_micro_usd_per_mtok: 2000000
"""


@dataclass(frozen=True)
class Account:
    """A person with an account, and a client logged in as them."""

    email: str
    client: IdentityClient


def new_account(target: Target, email: str) -> Account:
    """An account, made the way every person's is: invited to an org of its own, accepted."""
    assert target.admin_email
    assert target.admin_password
    identity = IdentityClient(target.url("identity"))
    login = identity.auth.login(target.admin_email, target.admin_password)
    admin = identity.with_options(token=login.access_token)
    home = admin.orgs.create("bench-home")
    invitation = admin.invitations.create(home.id, email=email, role="member")
    password = secrets.token_urlsafe(18) + "-Aa1!"
    identity.invitations.accept(token=invitation.token, password=password)
    theirs = identity.auth.login(email, password)
    return Account(email, identity.with_options(token=theirs.access_token))


@dataclass(frozen=True)
class Pushed:
    """A commit just made: what a mode may tell gitops about it."""

    gitops: GitopsClient
    application: str
    repo: GitRepo
    sha: str
    webhook_secret: str | None


def github_push(pushed: Pushed) -> object:
    """The push delivery GitHub sends for this commit (its clone URL is the repository's path
    as a `file://` URL), signed with the stack's webhook secret."""
    assert pushed.webhook_secret, "the stack has no webhook secret"
    payload = github_push_payload(f"file://{pushed.repo.url}.git", branch="main", sha=pushed.sha)
    answer = pushed.gitops.hooks.github(payload, secret=pushed.webhook_secret)
    assert [r.application for r in answer.refreshed] == [pushed.application], answer
    return answer


@dataclass(frozen=True)
class Mode:
    """How gitops learns of a commit: `notify(pushed)` right after it (or nothing), and the
    Application's poll interval."""

    notify: Callable[[Pushed], object]
    poll_interval_seconds: int


MODES: dict[str, Mode] = {
    "refresh": Mode(lambda pushed: pushed.gitops.applications.refresh(pushed.application), HOUR),
    "poll": Mode(lambda pushed: None, 1),
    "webhook": Mode(github_push, HOUR),
}


def synced_at(
    gitops: GitopsClient,
    name: str,
    sha: str,
    *,
    interval: float,
    timeout: float = WAIT_SECONDS,
    health: str = "Healthy",
) -> Application:
    def probe() -> Outcome[Application]:
        app = gitops.applications.get(name)
        s = app.status
        if (s.sync, s.health, s.revision) == ("Synced", health, sha):
            return Outcome.done(app)
        if s.health == "Degraded":
            return Outcome.failed(f"Degraded: {[c.message for c in s.conditions][:3]}")
        return Outcome.pending(f"{s.sync}/{s.health} at {(s.revision or '-')[:12]}")

    app: Application = eventually(
        probe,
        timeout=timeout,
        interval=interval,
        max_interval=interval,
        description=f"{name} to be Synced and {health} at {sha[:12]}",
    )
    return app


def fmt(samples_s: list[float]) -> str:
    ms = [s * 1000 for s in samples_s]
    return (
        f"p50 {statistics.median(ms):7.1f} ms  p95 {percentile(ms, 95):7.1f} ms  "
        f"max {max(ms):7.1f} ms  (n={len(ms)})"
    )


def commit_to_synced(
    target: Target, gitops: GitopsClient, root: Path, mode_name: str, commits: int
) -> list[float]:
    mode = MODES[mode_name]
    assert target.admin_email
    owner, backend = target.admin_email, target.url("modelsim")
    repo = GitRepo(root / f"convergence-{mode_name}")
    org = f"conv-{mode_name}"
    sha = repo.commit({"acme.yaml": manifests(org, owner, backend, 1_000_000)}, "declare")
    name = f"conv-{mode_name}"
    gitops.applications.create(
        name, repo_url=repo.url, poll_interval_seconds=mode.poll_interval_seconds
    )
    synced_at(gitops, name, sha, interval=STATUS_POLL_SECONDS)
    samples: list[float] = []
    for i in range(commits):
        sha = repo.commit(
            {"acme.yaml": manifests(org, owner, backend, 1_000_001 + i)}, f"budget {i}"
        )
        started = time.perf_counter()
        mode.notify(Pushed(gitops, name, repo, sha, target.webhook_secret))
        synced_at(gitops, name, sha, interval=STATUS_POLL_SECONDS)
        samples.append(time.perf_counter() - started)
    repo.close()
    return samples


def requests_of(logs: dict[str, Path], request_id: str) -> dict[str, list[tuple[str, float]]]:
    """`{service: [(method, server-side ms)]}`: the access-log lines carrying `request_id`."""
    found: dict[str, list[tuple[str, float]]] = {}
    for service in LIVE_SERVICES:
        lines = []
        for raw in logs[service].read_text(encoding="utf-8").splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            extra = line.get("extra") or {}
            if line.get("request_id") == request_id and line.get("logger") == "gatewright.access":
                lines.append((str(extra.get("method")), float(extra.get("elapsed_ms", 0.0))))
        found[service] = lines
    return found


def fetch_and_parse_ms(repo_url: str, root: Path) -> tuple[float, float]:
    """gitops' own fetch (a warm cache clone, as on a no-change reconcile) and parse, timed in
    this process: the part of a reconcile that is not live reads."""
    from gatewright.gitops.service.gitrepo import RepoCache
    from gatewright.gitops.service.manifests import parse

    cache = RepoCache(
        root / "fetch-cache", timeout_seconds=60, max_file_bytes=1 << 20, max_files=10_000
    )
    cache.snapshot(repo_url, "main", ".")  # the first fetch clones; the reconcile's is warm
    t0 = time.perf_counter()
    snapshot = cache.snapshot(repo_url, "main", ".")
    t1 = time.perf_counter()
    manifests_set, problems = parse(snapshot.files)
    t2 = time.perf_counter()
    assert manifests_set is not None, problems[:3]
    return (t1 - t0) * 1000, (t2 - t1) * 1000


def breakdown(target: Target, app: Application, root: Path) -> None:
    """The same no-change reconcile, run in this process with gitops' own code (its database
    read-only in effect: a no-change reconcile records nothing), profiled: where the time goes.
    The service never sees it, so nothing in the service changes."""
    import cProfile
    import pstats

    from gatewright.gitops.service.config import GitopsSettings
    from gatewright.gitops.service.gitrepo import RepoCache
    from gatewright.gitops.service.live import ClientLiveFactory
    from gatewright.gitops.service.reconcile import reconcile
    from gatewright.servicekit import Database
    from gatewright.servicekit.db import utcnow

    assert target.service_token
    settings = GitopsSettings(data_dir=Path(target.data_dirs["gitops"]))
    db = Database(settings.database_url_for("gitops"))
    repos = RepoCache(
        root / "profile-cache", timeout_seconds=60, max_file_bytes=1 << 20, max_files=10_000
    )
    live = ClientLiveFactory(
        identity_url=target.url("identity"),
        budgets_url=target.url("budgets"),
        gateway_url=target.url("gateway"),
        service_token=target.service_token,
    )

    def once() -> None:
        status = reconcile(
            app, db=db, repos=repos, live=live, trigger="bench", refresh_token=None, clock=utcnow
        )
        assert all(r.action == "unchanged" for r in status.resources), status.conditions[:3]

    once()  # warm: the cache clone, connection set-up, imports
    runs = []
    for _ in range(IN_PROCESS_RUNS):
        t0 = time.perf_counter()
        once()
        runs.append(time.perf_counter() - t0)
    plain = statistics.median(runs)
    profiler = cProfile.Profile()
    profiler.enable()
    once()
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = max(v[3] for v in stats.stats.values())  # type: ignore[attr-defined]

    def cumulative(module_part: str, function: str) -> tuple[float, int]:
        found = [
            (v[3], v[1])
            for (file, _, name), v in stats.stats.items()  # type: ignore[attr-defined]
            if module_part in file and name == function
        ]
        return (sum(t for t, _ in found), sum(n for _, n in found))

    print(
        f"  in-process, the same no-change reconcile: median {plain:.2f} s of {len(runs)} "
        f"unprofiled runs ({', '.join(f'{r:.2f}' for r in runs)}); profiled:"
    )
    parts = [
        ("git fetch + read (RepoCache.snapshot)", "gitops/service/gitrepo", "snapshot"),
        ("parse, or its cache (ParseCache.parse)", "gitops/service/manifests", "parse"),
        ("gitops's own rows, read once (_Run.load)", "gitops/service/reconcile", "load"),
        ("live reads fetched ahead (Prefetched.fetch)", "gitops/service/prefetch", "fetch"),
        # The reads run in the read-ahead's threads, which cProfile does not follow: these
        # count only what the reconcile's own thread still reads (a second read of one org).
        ("identity: org_exists (main thread)", "gitops/service/live", "org_exists"),
        ("identity: list_members (main thread)", "gitops/service/live", "list_members"),
        ("budgets: get_budget (main thread)", "gitops/service/live", "get_budget"),
        ("gateway: get_route (main thread)", "gitops/service/live", "get_route"),
        ("live clients per reconcile (views)", "gitops/service/live", "__call__"),
    ]
    for label, module_part, function in parts:
        seconds, calls = cumulative(module_part, function)
        print(
            f"    {label:42s} {seconds * 1000:8.1f} ms  {calls:5d} calls  "
            f"{seconds / total * 100:5.1f} %"
        )
    print(f"    {'total (profiled)':42s} {total * 1000:8.1f} ms")
    live.close()


def scale(
    running: Running, gitops: GitopsClient, owner: str, backend: str, root: Path, orgs: int
) -> None:
    target = running.target
    member = new_account(target, "member@scale.bench.gatewright.test")
    repo = GitRepo(root / "scale")
    files = {
        f"orgs/org-{i:03}.yaml": manifests(
            f"scale-{i:03}", owner, backend, 1_000_000 + i, member=member.email
        )
        for i in range(orgs)
    }
    sha = repo.commit(files, f"{orgs} orgs")
    name = "scale"
    started = time.perf_counter()
    gitops.applications.create(name, repo_url=repo.url, poll_interval_seconds=86_400)
    app = synced_at(
        gitops, name, sha, interval=0.05, timeout=SCALE_WAIT_SECONDS, health="Progressing"
    )
    wall = time.perf_counter() - started
    first = app.status.operations[0]
    its = (first.finished_at - first.started_at).total_seconds()
    kinds = Counter(r.action for r in app.status.resources)
    print(
        f"empty -> Synced, {orgs} orgs ({len(app.status.resources)} resources: {dict(kinds)}): "
        f"wall {wall:.2f} s, its reconcile {its:.2f} s; Progressing on {orgs} invitations"
    )
    t0 = time.perf_counter()
    org_ids = {r.live_id for r in app.status.resources if r.kind == "Org"}
    pending = [i for i in member.client.users.invitations().data if i.org_id in org_ids]
    for invitation in pending:
        member.client.users.accept_invitation(invitation.id)
    accepted = time.perf_counter() - t0
    gitops.applications.refresh(name)
    app = synced_at(gitops, name, sha, interval=0.05, timeout=SCALE_WAIT_SECONDS)
    members = sum(1 for r in app.status.resources if r.kind == "Membership")
    print(
        f"  the member accepted {len(pending)} invitations in {accepted:.2f} s; a refresh then: "
        f"Synced and Healthy, {members} memberships"
    )

    cpu_before = running.cpu_seconds()
    token = gitops.applications.refresh(name).token

    def handled() -> Outcome[Application]:
        now = gitops.applications.get(name)
        last = now.status.last_handled_refresh
        if last is not None and last >= token:
            return Outcome.done(now)
        return Outcome.pending(f"last handled refresh {last}")

    t0 = time.perf_counter()
    app = eventually(handled, timeout=SCALE_WAIT_SECONDS, interval=0.01, max_interval=0.05)
    observed = time.perf_counter() - t0
    cpu_after = running.cpu_seconds()
    op = app.status.operations[0]
    duration = (op.finished_at - op.started_at).total_seconds()
    assert (app.status.sync, op.trigger) == ("Synced", "refresh"), (app.status.sync, op.trigger)
    unchanged = all(r.action == "unchanged" for r in app.status.resources)
    sent = requests_of(running.logs, op.reconcile_request_id)
    writes = {s: [m for m, _ in calls if m != "GET"] for s, calls in sent.items()}
    print(
        f"no-change reconcile of {orgs} orgs: {duration:.2f} s (operation started_at -> "
        f"finished_at; refresh to handled observed {observed:.2f} s); every resource "
        f"unchanged: {unchanged}"
    )
    total_writes = sum(len(w) for w in writes.values())
    print(
        f"  writes during it (identity/budgets/gateway access-log lines with its request ID "
        f"{op.reconcile_request_id}, method not GET): {total_writes}"
    )
    for service, calls in sent.items():
        server_ms = sum(ms for _, ms in calls)
        methods = dict(Counter(m for m, _ in calls))
        print(
            f"  {service:8s}: {len(calls):4d} requests {methods}, server-side {server_ms:7.1f} ms "
            f"({server_ms / max(1, len(calls)):.2f} ms each)"
        )
    cpu = {s: cpu_after.get(s, 0.0) - cpu_before.get(s, 0.0) for s in cpu_before}
    print("  CPU during it: " + ", ".join(f"{s} {v:.2f} s" for s, v in cpu.items()))
    fetch_ms, parse_ms = fetch_and_parse_ms(repo.url, root)
    print(f"  gitops' fetch (warm) {fetch_ms:.0f} ms + parse {parse_ms:.0f} ms, in-process")
    breakdown(running.target, app, root)
    repo.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=50)
    parser.add_argument("--orgs", type=int, default=200, help="0: no scale part")
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown mode(s) {sorted(unknown)}; known: {sorted(MODES)}")
    with (
        tempfile.TemporaryDirectory(prefix="gatewright-bench-git-") as tmp,
        running_stack(SERVICES) as running,
    ):
        target = running.target
        assert target.admin_email
        assert target.service_token
        root = Path(tmp)
        backend = target.url("modelsim")
        with GitopsClient(target.url("gitops"), token=target.service_token) as gitops:
            for mode in modes:
                samples = commit_to_synced(target, gitops, root, mode, args.commits)
                print(f"commit -> Synced, {mode:7s}: {fmt(samples)}")
            if args.orgs > 0:
                scale(running, gitops, target.admin_email, backend, root, args.orgs)


if __name__ == "__main__":
    main()
