"""Diff preview: what a reconcile of any revision would do, applied nowhere (decision 14).

`preview(app, revision, ...)` resolves a commit SHA or a branch in the Application's repository
(`RepoCache.resolve`, which fetches into `refs/gitops/preview/...` and never moves the branch
head reconciles follow), then runs `reconcile.reconcile` itself against that commit with the
policy forced to report-only and live state behind a read-only guard (`read_only`: reads pass,
any other call raises, a bug rather than a write), and returns the result instead of saving it:
the Application's status, inventory and operations stay as they are. One diff and one set of
validation rules serve reconciles and previews alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from gatewright.gitops.models import Application, Preview, SyncPolicy
from gatewright.gitops.service.gitrepo import AtRevision, GitError, RepoCache
from gatewright.gitops.service.live import LiveFactory, LiveState
from gatewright.gitops.service.reconcile import reconcile
from gatewright.servicekit import Database, ServiceError

PREVIEW = "preview"
_READ_PREFIXES = ("get_", "list_", "find_", "read_")


class PreviewWriteRefused(RuntimeError):
    """A preview reached a live write: a bug (the report-only policy applies nothing)."""


class _ReadOnlyLive:
    """Forwards live reads, refuses everything else: a preview writes nowhere, whatever the
    reconcile's per-kind logic grows into."""

    def __init__(self, inner: LiveState) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name.startswith(_READ_PREFIXES) or name.endswith("_exists"):
            return attr

        def refused(*args: Any, **kwargs: Any) -> Any:
            raise PreviewWriteRefused(f"a preview called {name}")

        return refused


def read_only(live: LiveFactory) -> LiveFactory:
    @contextmanager
    def factory(request_id: str) -> Iterator[LiveState]:
        with live(request_id) as state:
            yield cast("LiveState", _ReadOnlyLive(state))

    return factory


def preview(
    app: Application,
    revision: str,
    *,
    db: Database,
    repos: RepoCache,
    live: LiveFactory,
    clock: Callable[[], datetime],
) -> Preview:
    """What a reconcile of `revision` (a SHA or a branch) would do; nothing is applied or saved.

    Raises `ServiceError` 404 `revision_not_found` for a revision the repository does not have,
    503 `repository_unavailable` when git cannot be read."""
    try:
        sha = repos.resolve(app.repo_url, revision)
    except GitError as exc:
        if exc.reason == "RevisionNotFound":
            raise ServiceError(
                404, "revision_not_found", exc.message, details={"revision": revision}
            ) from None
        raise ServiceError(
            503, "repository_unavailable", exc.message, details={"reason": exc.reason}
        ) from None
    report_only = app.model_copy(
        update={"sync_policy": SyncPolicy(automated=False, self_heal=False, prune=False)}
    )
    status = reconcile(
        report_only,
        db=db,
        repos=AtRevision(repos, sha),
        live=read_only(live),
        trigger=PREVIEW,
        refresh_token=None,
        clock=clock,
        record=False,
    )
    return Preview(
        application=app.name,
        requested=revision,
        revision=sha,
        sync=status.sync,
        resources=status.resources,
        problems=status.conditions,
    )
