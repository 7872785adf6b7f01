"""The timed triggers in the service (decision 14): a drift check compares live state with the
last fetched revision without reading git, and a fetch that fails is retried with backoff, shown
on the status, applies nothing, and converges once git is back.

Most reconciles here run directly through `app.state.reconcile` (the scheduler's own entry
point) on an app whose scheduler is off and whose wall clock is fake, so the backoff schedule is
exact; one test per trigger runs the real scheduler and waits on the facts it records.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from gitops_fixtures import BUDGET, ORG, ROUTE, SERVICE, SERVICE_TOKEN, ConfigRepo, FakeLive
from pydantic import SecretStr

from gatewright.gitops import Client, SyncFailed
from gatewright.gitops.models import Application
from gatewright.gitops.service import GitopsSettings, create_app, store
from gatewright.gitops.service.scheduler import DRIFT_CHECK, POLL, RETRY, Outcome

MANIFESTS = {"orgs/acme.yaml": ORG + "---\n" + BUDGET, "orgs/routes.yml": ROUTE}
T0 = datetime(2026, 1, 2, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def quiet(tmp_path: Path, live: FakeLive, clock: FakeClock) -> Iterator[tuple[FastAPI, TestClient]]:
    """The service with its scheduler off: reconciles run only when a test runs them."""
    settings = GitopsSettings(
        data_dir=tmp_path / "data",
        service_token=SecretStr(SERVICE_TOKEN),
        identity_url="http://identity.invalid",
        reconcile_loop=False,
    )
    app = create_app(settings, live=live.factory, clock=clock)
    with TestClient(app) as http:
        yield app, http


def create(http: TestClient, name: str = "platform", **body: Any) -> None:
    answer = http.post("/v1/applications", json={"name": name, **body}, headers=SERVICE)
    assert answer.status_code == 201, answer.text


def run(app: FastAPI, trigger: str, name: str = "platform") -> tuple[Outcome, Application]:
    outcome: Outcome = app.state.reconcile(name, trigger)
    with app.state.db.session() as s:
        return outcome, store.get_application(s, name=name)


def budget_of(app: Application) -> Any:
    return next(r for r in app.status.resources if r.kind == "Budget")


# -- drift check -------------------------------------------------------------------------------
def test_a_drift_check_compares_with_the_fetched_revision_without_reading_git(
    quiet: tuple[FastAPI, TestClient], repo: ConfigRepo, live: FakeLive, tmp_path: Path
) -> None:
    app, http = quiet
    sha = repo.commit(MANIFESTS)
    create(http, repo_url=repo.url, path="orgs", drift_check_interval_seconds=5)
    outcome, synced = run(app, POLL)
    assert (synced.status.sync, synced.status.revision, outcome) == ("Synced", sha, Outcome())
    [org_id] = live.orgs
    live.budgets[org_id] = {"limit_micro_usd": 1, "period": "monthly"}  # a change outside Git
    repo.root.rename(tmp_path / "moved")  # any git traffic would fail from here on
    asked = http.post("/v1/applications/platform/refresh", headers=SERVICE).json()["token"]

    outcome, checked = run(app, DRIFT_CHECK)
    status = checked.status
    assert (status.sync, status.health, status.revision) == ("OutOfSync", "Healthy", sha)
    assert status.conditions == []
    assert status.fetch_failure is None
    assert outcome.retry_in is None
    assert (budget_of(checked).action, budget_of(checked).message) == ("would_update", "drift")
    assert status.operations[0].trigger == DRIFT_CHECK
    assert live.budgets[org_id]["limit_micro_usd"] == 1  # no self_heal: reported only

    # It read no git, so it answered no refresh; the next reconcile that fetches does.
    assert status.last_handled_refresh != asked
    _, polled = run(app, POLL)  # a poll does read git: now it says so
    assert polled.status.conditions[0].reason == "FetchFailed"
    assert polled.status.last_handled_refresh == asked


def test_drift_checks_run_on_their_own_interval_between_polls(
    gitops: Client, repo: ConfigRepo, live: FakeLive, tmp_path: Path
) -> None:
    repo.commit(MANIFESTS)
    gitops.applications.create(
        "platform",
        repo_url=repo.url,
        path="orgs",
        poll_interval_seconds=3600,
        drift_check_interval_seconds=1,
    )
    gitops.applications.wait_for("platform", refresh=False)
    [org_id] = live.orgs
    repo.root.rename(tmp_path / "moved")  # the drift check must not need git
    live.budgets[org_id] = {"limit_micro_usd": 1, "period": "monthly"}
    # No refresh: only the scheduler's drift check can notice (the poll is an hour away).
    app = gitops.applications.wait_for(
        "platform", sync="OutOfSync", health="Healthy", refresh=False, timeout=30
    )
    assert app.status.operations[0].trigger == DRIFT_CHECK
    assert budget_of(app).message == "drift"


# -- git unreachable ---------------------------------------------------------------------------
def test_a_failed_fetch_backs_off_shows_why_applies_nothing_and_recovers(
    quiet: tuple[FastAPI, TestClient],
    repo: ConfigRepo,
    live: FakeLive,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    app, http = quiet
    sha = repo.commit(MANIFESTS)
    create(http, repo_url=repo.url, path="orgs", poll_interval_seconds=3)
    run(app, POLL)
    moved = tmp_path / "moved"
    repo.root.rename(moved)
    calls = len(live.calls)

    seen = []
    for trigger in (POLL, RETRY, RETRY, RETRY):
        clock.now += timedelta(seconds=10)
        outcome, failing = run(app, trigger)
        failure = failing.status.fetch_failure
        assert failure is not None
        assert (failing.status.sync, failing.status.health) == ("Unknown", "Degraded")
        assert failure.reason == "FetchFailed"
        assert repo.url in failure.message
        assert failure.next_retry_at == clock.now + timedelta(seconds=outcome.retry_in or 0)
        seen.append((failure.attempts, outcome.retry_in))
    # 1 s, doubling, capped at the poll interval (3 s); the condition says it too.
    assert seen == [(1, 1.0), (2, 2.0), (3, 3.0), (4, 3.0)]
    assert "attempt 4; next retry in 3s" in failing.status.conditions[0].message
    assert failing.status.revision == sha  # the last revision read stays on record
    assert len(live.calls) == calls  # nothing read or applied while git cannot be read

    moved.rename(repo.root)  # git is back
    outcome, recovered = run(app, RETRY)
    assert outcome == Outcome()
    status = recovered.status
    assert (status.sync, status.health, status.fetch_failure) == ("Synced", "Healthy", None)


def test_credentials_in_an_unreachable_url_never_reach_the_status(
    quiet: tuple[FastAPI, TestClient],
) -> None:
    app, http = quiet
    # Port 1 on loopback refuses at once: a fetch that fails without leaving the machine.
    create(http, repo_url="http://bot:s3cr3t@127.0.0.1:1/config.git")
    outcome, failing = run(app, POLL)
    assert outcome.retry_in == 1.0
    failure = failing.status.fetch_failure
    assert failure is not None
    assert "***@127.0.0.1:1" in failure.message
    assert "s3cr3t" not in failing.status.model_dump_json()


def test_the_scheduler_retries_by_itself_and_converges_once_git_is_back(
    gitops: Client, tmp_path: Path, live: FakeLive
) -> None:
    where = tmp_path / "later"
    gitops.applications.create(
        "platform", repo_url=str(where), path="orgs", poll_interval_seconds=3600
    )
    with pytest.raises(SyncFailed) as failed:
        gitops.applications.wait_for("platform")
    status = failed.value.status
    assert status is not None
    assert status.fetch_failure is not None
    assert status.fetch_failure.attempts >= 1
    sha = ConfigRepo(where).commit(MANIFESTS)  # the repository appears
    # No refresh: the retry (due within seconds, not at the hour's poll) picks it up.
    app = gitops.applications.wait_for("platform", revision=sha, refresh=False, timeout=30)
    assert app.status.operations[0].trigger == RETRY
    assert app.status.fetch_failure is None
    assert live.orgs  # applied once it could be read
