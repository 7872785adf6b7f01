"""Gitops clients: `Client` (sync) and `AsyncClient` over one request builder.

`_ApplicationsRequests` returns a `Call` (method, path, body, response type) for each route;
`Applications` and `AsyncApplications` only hand it to their client, so sync and async never
diverge. Bodies are plain dicts: the service is the authority on input, and its 422 arrives as
`ValidationFailed` like every other error. `Hooks` / `AsyncHooks` (`_HooksRequests`) send
webhook deliveries as GitHub and GitLab do, signed over the exact bytes sent (`sign_github`).

`wait_for` waits on facts, not time: it asks for a refresh (a token), then polls the status
until a reconcile has handled that token (`status.last_handled_refresh` is it or a later one)
and the status is what the caller wants. The decision for one observed status is `_judge`, one
function both clients share: *done*, *pending* (keep polling, backing off 10 ms → 1 s), or
*failed* (stop at once: the refresh was handled and the result is not the wanted one, e.g.
Degraded by invalid manifests), so a caller learns of a broken repo in one reconcile, not at
the timeout. Exceptions (beside core's tree):

```
GatewrightError
└── WaitError              wait_for gave up; `.status` is the last status observed
    ├── SyncFailed         the refresh was handled and the status is not the wanted one
    └── SyncTimeout        `timeout` passed first (also a TimeoutError)
```
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from gatewright.core import (
    AsyncAPIClient,
    AsyncResource,
    Call,
    GatewrightError,
    SyncAPIClient,
    SyncResource,
    json_body,
    path_segment,
)
from gatewright.gitops._hooks import (
    GITHUB_DELIVERY_HEADER,
    GITHUB_EVENT_HEADER,
    GITHUB_SIGNATURE_HEADER,
    GITLAB_EVENT_HEADER,
    GITLAB_TOKEN_HEADER,
    sign_github,
)
from gatewright.gitops.models import (
    Application,
    ApplicationList,
    ApplicationStatus,
    HealthStatus,
    HookResult,
    Preview,
    RefreshAccepted,
    SyncStatus,
)

DEFAULT_WAIT_TIMEOUT = 60.0
_FIRST_DELAY = 0.01
_MAX_DELAY = 1.0


class WaitError(GatewrightError):
    """`wait_for` gave up; `status` is the last status it observed (None: none yet)."""

    def __init__(self, message: str, *, status: ApplicationStatus | None) -> None:
        super().__init__(message)
        self.status = status


class SyncFailed(WaitError):
    """The refresh was handled and the Application is not in the wanted state."""


class SyncTimeout(WaitError, TimeoutError):
    """The wanted state was not observed within the timeout."""


# -- request builders (no I/O) ----------------------------------------------------------------
def _app_path(name: str) -> str:
    return f"/v1/applications/{path_segment(name)}"


class _ApplicationsRequests:
    @staticmethod
    def create(
        *,
        name: str,
        repo_url: str,
        org_id: str | None,
        branch: str | None,
        path: str | None,
        sync_policy: dict[str, bool] | None,
        poll_interval_seconds: int | None,
        drift_check_interval_seconds: int | None,
    ) -> Call[Application]:
        body = json_body(
            name=name,
            org_id=org_id,
            repo_url=repo_url,
            branch=branch,
            path=path,
            sync_policy=sync_policy,
            poll_interval_seconds=poll_interval_seconds,
            drift_check_interval_seconds=drift_check_interval_seconds,
        )
        return Call("POST", "/v1/applications", Application, body)

    @staticmethod
    def get(name: str) -> Call[Application]:
        return Call("GET", _app_path(name), Application)

    @staticmethod
    def list() -> Call[ApplicationList]:
        return Call("GET", "/v1/applications", ApplicationList)

    @staticmethod
    def update(name: str, changes: dict[str, Any]) -> Call[Application]:
        return Call("PATCH", _app_path(name), Application, json_body(**changes))

    @staticmethod
    def delete(name: str) -> Call[None]:
        return Call("DELETE", _app_path(name), None)

    @staticmethod
    def refresh(name: str) -> Call[RefreshAccepted]:
        return Call("POST", f"{_app_path(name)}/refresh", RefreshAccepted)

    @staticmethod
    def diff(name: str, revision: str) -> Call[Preview]:
        return Call("POST", f"{_app_path(name)}/diff", Preview, json_body(revision=revision))


class _HooksRequests:
    """Deliveries as the hosts send them: the body is encoded once, and those bytes are what is
    signed and sent. Compact, keys sorted: a canonical form that a recorded pact replays byte
    for byte, so its signature still holds (GitHub's own indentation is signed the same way)."""

    @staticmethod
    def _encode(payload: dict[str, Any]) -> bytes:
        text = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return text.encode("utf-8")

    @staticmethod
    def github(
        payload: dict[str, Any], *, secret: str, event: str, delivery: str | None
    ) -> Call[HookResult]:
        body = _HooksRequests._encode(payload)
        headers = {
            "Content-Type": "application/json",
            GITHUB_EVENT_HEADER: event,
            GITHUB_SIGNATURE_HEADER: sign_github(secret, body),
        }
        if delivery is not None:
            headers[GITHUB_DELIVERY_HEADER] = delivery
        return Call("POST", "/v1/hooks/git", HookResult, content=body, headers=headers)

    @staticmethod
    def gitlab(payload: dict[str, Any], *, token: str, event: str) -> Call[HookResult]:
        headers = {
            "Content-Type": "application/json",
            GITLAB_EVENT_HEADER: event,
            GITLAB_TOKEN_HEADER: token,
        }
        body = _HooksRequests._encode(payload)
        return Call("POST", "/v1/hooks/git", HookResult, content=body, headers=headers)


@dataclass(frozen=True)
class _Want:
    token: str | None
    revision: str | None
    sync: SyncStatus | None
    health: HealthStatus | None

    def describe(self) -> str:
        parts = [
            f"sync {self.sync}" if self.sync else "",
            f"health {self.health}" if self.health else "",
        ]
        if self.revision:
            parts.append(f"revision {self.revision[:12]}")
        return ", ".join(p for p in parts if p)


def _seen(status: ApplicationStatus) -> str:
    revision = (status.revision or "none")[:12]
    text = f"sync {status.sync}, health {status.health}, revision {revision}"
    if status.conditions:
        text += "; " + "; ".join(f"{c.reason}: {c.message}" for c in status.conditions[:3])
    return text


def _judge(status: ApplicationStatus, want: _Want) -> tuple[str, str]:
    """`("done" | "pending" | "failed", what was seen)` for one observed status."""
    seen = _seen(status)
    handled = want.token is None or (
        status.last_handled_refresh is not None and status.last_handled_refresh >= want.token
    )
    matches = (
        (want.revision is None or status.revision == want.revision)
        and (want.sync is None or status.sync == want.sync)
        and (want.health is None or status.health == want.health)
    )
    if handled and matches:
        return "done", seen
    if not handled:
        return "pending", f"refresh {want.token} not handled yet ({seen})"
    if want.token is not None:
        # The reconcile that handled our refresh saw the head we asked about: what it found is
        # the answer, and waiting longer would only wait out the timeout.
        return "failed", seen
    return "pending", seen


def _next_delay(delay: float) -> float:
    return min(delay * 2, _MAX_DELAY)


# -- resources -------------------------------------------------------------------------------
class Applications(SyncResource):
    """Applications: a repo, branch and path whose manifests the service keeps applied."""

    def create(
        self,
        name: str,
        *,
        repo_url: str,
        org_id: str | None = None,
        branch: str | None = None,
        path: str | None = None,
        sync_policy: dict[str, bool] | None = None,
        poll_interval_seconds: int | None = None,
        drift_check_interval_seconds: int | None = None,
    ) -> Application:
        """Create an Application; its first reconcile starts at once. `org_id`: the org that
        owns it (its manifests may then concern only that org); None: platform-wide."""
        return self._send(
            _ApplicationsRequests.create(
                name=name,
                repo_url=repo_url,
                org_id=org_id,
                branch=branch,
                path=path,
                sync_policy=sync_policy,
                poll_interval_seconds=poll_interval_seconds,
                drift_check_interval_seconds=drift_check_interval_seconds,
            )
        )

    def get(self, name: str) -> Application:
        return self._send(_ApplicationsRequests.get(name))

    def list(self) -> ApplicationList:
        return self._send(_ApplicationsRequests.list())

    def update(self, name: str, **changes: Any) -> Application:
        """Change the given fields (`repo_url`, `branch`, `path`, `sync_policy`, intervals)."""
        return self._send(_ApplicationsRequests.update(name, changes))

    def delete(self, name: str) -> None:
        """Forget the Application (what it applied stays; prune comes in a later slice)."""
        self._send(_ApplicationsRequests.delete(name))

    def refresh(self, name: str) -> RefreshAccepted:
        """Ask for a reconcile now; never lost, even while one is running."""
        return self._send(_ApplicationsRequests.refresh(name))

    def diff(self, name: str, revision: str) -> Preview:
        """Diff `revision` (a commit SHA or a branch) against live state; nothing is applied."""
        return self._send(_ApplicationsRequests.diff(name, revision))

    def wait_for(
        self,
        name: str,
        *,
        revision: str | None = None,
        sync: SyncStatus | None = "Synced",
        health: HealthStatus | None = "Healthy",
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        refresh: bool = True,
        token: str | None = None,
    ) -> Application:
        """Refresh, then poll until a reconcile handled it and the status is as wanted.

        Raises `SyncFailed` at once when the handled reconcile ended elsewhere, `SyncTimeout`
        when `timeout` passes. `refresh=False` only polls (no token: it never fails early);
        `token` waits on a refresh asked for elsewhere (a webhook's answer) instead of a new one."""
        if token is None and refresh:
            token = self.refresh(name).token
        want = _Want(token, revision, sync, health)
        deadline = time.monotonic() + timeout
        delay = _FIRST_DELAY
        last: ApplicationStatus | None = None
        while True:
            app = self.get(name)
            last = app.status
            verdict, seen = _judge(last, want)
            if verdict == "done":
                return app
            if verdict == "failed":
                raise SyncFailed(f"{name}: wanted {want.describe()}, is {seen}", status=last)
            if time.monotonic() + delay > deadline:
                raise SyncTimeout(
                    f"{name}: wanted {want.describe()} within {timeout}s; last saw {seen}",
                    status=last,
                )
            time.sleep(delay)  # backoff between polls, not synchronization
            delay = _next_delay(delay)


class AsyncApplications(AsyncResource):
    """Applications: a repo, branch and path whose manifests the service keeps applied."""

    async def create(
        self,
        name: str,
        *,
        repo_url: str,
        org_id: str | None = None,
        branch: str | None = None,
        path: str | None = None,
        sync_policy: dict[str, bool] | None = None,
        poll_interval_seconds: int | None = None,
        drift_check_interval_seconds: int | None = None,
    ) -> Application:
        """Create an Application; its first reconcile starts at once. `org_id`: the org that
        owns it (its manifests may then concern only that org); None: platform-wide."""
        return await self._send(
            _ApplicationsRequests.create(
                name=name,
                repo_url=repo_url,
                org_id=org_id,
                branch=branch,
                path=path,
                sync_policy=sync_policy,
                poll_interval_seconds=poll_interval_seconds,
                drift_check_interval_seconds=drift_check_interval_seconds,
            )
        )

    async def get(self, name: str) -> Application:
        return await self._send(_ApplicationsRequests.get(name))

    async def list(self) -> ApplicationList:
        return await self._send(_ApplicationsRequests.list())

    async def update(self, name: str, **changes: Any) -> Application:
        """Change the given fields (`repo_url`, `branch`, `path`, `sync_policy`, intervals)."""
        return await self._send(_ApplicationsRequests.update(name, changes))

    async def delete(self, name: str) -> None:
        """Forget the Application (what it applied stays; prune comes in a later slice)."""
        await self._send(_ApplicationsRequests.delete(name))

    async def refresh(self, name: str) -> RefreshAccepted:
        """Ask for a reconcile now; never lost, even while one is running."""
        return await self._send(_ApplicationsRequests.refresh(name))

    async def diff(self, name: str, revision: str) -> Preview:
        """Diff `revision` (a commit SHA or a branch) against live state; nothing is applied."""
        return await self._send(_ApplicationsRequests.diff(name, revision))

    async def wait_for(
        self,
        name: str,
        *,
        revision: str | None = None,
        sync: SyncStatus | None = "Synced",
        health: HealthStatus | None = "Healthy",
        timeout: float = DEFAULT_WAIT_TIMEOUT,  # noqa: ASYNC109 - the same API as Client's
        refresh: bool = True,
        token: str | None = None,
    ) -> Application:
        """Refresh, then poll until a reconcile handled it and the status is as wanted.

        Raises `SyncFailed` at once when the handled reconcile ended elsewhere, `SyncTimeout`
        when `timeout` passes. `refresh=False` only polls (no token: it never fails early);
        `token` waits on a refresh asked for elsewhere (a webhook's answer) instead of a new one."""
        if token is None and refresh:
            token = (await self.refresh(name)).token
        want = _Want(token, revision, sync, health)
        deadline = time.monotonic() + timeout
        delay = _FIRST_DELAY
        last: ApplicationStatus | None = None
        while True:
            app = await self.get(name)
            last = app.status
            verdict, seen = _judge(last, want)
            if verdict == "done":
                return app
            if verdict == "failed":
                raise SyncFailed(f"{name}: wanted {want.describe()}, is {seen}", status=last)
            if time.monotonic() + delay > deadline:
                raise SyncTimeout(
                    f"{name}: wanted {want.describe()} within {timeout}s; last saw {seen}",
                    status=last,
                )
            await asyncio.sleep(delay)  # backoff between polls, not synchronization
            delay = _next_delay(delay)


class Hooks(SyncResource):
    """Webhook deliveries as GitHub and GitLab send them (for tests and scripted pushes)."""

    def github(
        self,
        payload: dict[str, Any],
        *,
        secret: str,
        event: str = "push",
        delivery: str | None = None,
    ) -> HookResult:
        """Send `payload` as GitHub would, signed with `secret` (`X-Hub-Signature-256`)."""
        return self._send(
            _HooksRequests.github(payload, secret=secret, event=event, delivery=delivery)
        )

    def gitlab(
        self, payload: dict[str, Any], *, token: str, event: str = "Push Hook"
    ) -> HookResult:
        """Send `payload` as GitLab would, with `token` as `X-Gitlab-Token`."""
        return self._send(_HooksRequests.gitlab(payload, token=token, event=event))


class AsyncHooks(AsyncResource):
    """Webhook deliveries as GitHub and GitLab send them (for tests and scripted pushes)."""

    async def github(
        self,
        payload: dict[str, Any],
        *,
        secret: str,
        event: str = "push",
        delivery: str | None = None,
    ) -> HookResult:
        """Send `payload` as GitHub would, signed with `secret` (`X-Hub-Signature-256`)."""
        return await self._send(
            _HooksRequests.github(payload, secret=secret, event=event, delivery=delivery)
        )

    async def gitlab(
        self, payload: dict[str, Any], *, token: str, event: str = "Push Hook"
    ) -> HookResult:
        """Send `payload` as GitLab would, with `token` as `X-Gitlab-Token`."""
        return await self._send(_HooksRequests.gitlab(payload, token=token, event=event))


# -- clients ---------------------------------------------------------------------------------
class Client(SyncAPIClient):
    """Synchronous gitops client.

    `Client(base_url, token=None, **core options)`; `token` is the service token or a platform
    admin's access token (from identity). `client.with_options(token=...)` shares the pool.
    """

    def __init__(self, base_url: str | httpx.URL, *, token: str | None = None, **kwargs: Any):
        super().__init__(base_url, token=token, **kwargs)
        self.applications = Applications(self)
        self.hooks = Hooks(self)


class AsyncClient(AsyncAPIClient):
    """Asynchronous gitops client; the same resources as `Client`, awaited."""

    def __init__(self, base_url: str | httpx.URL, *, token: str | None = None, **kwargs: Any):
        super().__init__(base_url, token=token, **kwargs)
        self.applications = AsyncApplications(self)
        self.hooks = AsyncHooks(self)
