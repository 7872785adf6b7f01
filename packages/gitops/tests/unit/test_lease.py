"""The per-Application lease: replicas over one database never reconcile one Application at
once. A lease is taken when free, expired or already the holder's; another replica's answers
"busy" and reconciles nothing; a release frees it at once. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from gitops_fixtures import OWNER, ConfigRepo, FakeLive

from gatewright.gitops.models import ApplicationCreate, ApplicationStatus
from gatewright.gitops.service import store
from gatewright.gitops.service.gitrepo import RepoCache
from gatewright.gitops.service.reconcile import LEASE_BUSY_RETRY_SECONDS, Lease, reconcile_by_name
from gatewright.servicekit import Database, testing
from gatewright.servicekit.db import utcnow

ORG = f"kind: Org\nmetadata: {{name: acme}}\nspec: {{owner: {OWNER}}}\n"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with testing.database_url(request.param, tmp_path / "gitops.db") as url:
        database = Database(url)
        database.create_all(store.metadata)
        yield database
        database.dispose()


def _app(db: Database, repo_url: str = "/nowhere") -> str:
    body = ApplicationCreate(name="platform", repo_url=repo_url, path="orgs")
    with db.session() as s, s.begin():
        return store.create_application(s, body=body, now=utcnow()).id


def take(db: Database, app_id: str, holder: str, *, at_seconds: float = 0.0) -> bool:
    with db.session() as s, s.begin():
        now = utcnow() + timedelta(seconds=at_seconds)
        return store.acquire_lease(s, app_id=app_id, holder=holder, now=now, seconds=60)


def test_one_holder_at_a_time_until_it_releases(db: Database) -> None:
    app_id = _app(db)
    assert take(db, app_id, "replica-a")
    assert not take(db, app_id, "replica-b")  # held
    assert take(db, app_id, "replica-a")  # its own: renewed
    with db.session() as s, s.begin():
        store.release_lease(s, app_id=app_id, holder="replica-b")  # not b's: nothing happens
    assert not take(db, app_id, "replica-b")
    with db.session() as s, s.begin():
        store.release_lease(s, app_id=app_id, holder="replica-a")
    assert take(db, app_id, "replica-b")


def test_an_expired_lease_goes_to_whoever_asks(db: Database) -> None:
    app_id = _app(db)
    assert take(db, app_id, "replica-a")
    assert not take(db, app_id, "replica-b", at_seconds=59)
    assert take(db, app_id, "replica-b", at_seconds=61)  # a crashed holder's lease ran out
    assert not take(db, app_id, "replica-a", at_seconds=62)


def test_a_replica_finding_the_lease_held_reconciles_nothing_and_asks_again_soon(
    db: Database, tmp_path: Path, repo: ConfigRepo, live: FakeLive
) -> None:
    repo.commit({"orgs/acme.yaml": ORG})
    app_id = _app(db, repo.url)
    repos = RepoCache(tmp_path / "cache", timeout_seconds=30, max_file_bytes=1 << 20, max_files=50)
    other, mine = Lease("replica-a", 60), Lease("replica-b", 60)
    assert take(db, app_id, other.holder)

    def run(lease: Lease) -> ApplicationStatus:
        outcome = reconcile_by_name(
            "platform",
            db=db,
            repos=repos,
            live=live.factory,
            trigger="test",
            clock=utcnow,
            lease=lease,
        )
        assert outcome.exists
        busy[lease.holder] = outcome.retry_in
        with db.session() as s:
            return store.get_application(s, name="platform").status

    busy: dict[str, float | None] = {}
    before = run(mine)
    assert busy[mine.holder] == LEASE_BUSY_RETRY_SECONDS
    assert (before.operations, live.orgs) == ([], {})  # not reconciled: nothing read or applied
    after = run(other)  # the holder reconciles, then releases
    assert busy[other.holder] is None
    assert [r.action for r in after.resources] == ["created"]
    assert take(db, app_id, mine.holder)  # released when its reconcile ended
