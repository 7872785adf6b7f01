"""Wire models shared by the gitops client and the gitops service.

An **Application** names a git repository, a branch and a path inside it, and a sync policy; the
service keeps the orgs, memberships, budgets and routes that the YAML manifests there declare.
Its status speaks Argo CD's vocabulary: `sync` (Synced | OutOfSync | Unknown) and `health`
(Healthy | Progressing | Degraded), with the revision (commit SHA) it looked at, per-resource
status and diff, conditions, the recent operations and the inventory.

Request models forbid unknown fields (a typo is a 422, never a silently ignored value); response
models subclass core `APIModel`, ignore fields a newer provider adds, and carry the `request_id`
of the response they came from. Times are aware UTC datetimes (RFC 3339 on the wire).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
)

from gatewright.core import APIModel

SyncStatus = Literal["Synced", "OutOfSync", "Unknown"]
"""Does live state match Git at `revision`? Unknown: it could not be compared (no fetch yet, the
repository unreachable, or the manifests invalid)."""
HealthStatus = Literal["Healthy", "Progressing", "Degraded"]
"""Progressing: not reconciled yet, or applied but waiting (a Membership whose invitation is not
accepted yet). Degraded: the last reconcile could not do its job (see the conditions: invalid
manifests, a fetch or an apply that failed, a conflict with another Application)."""
SYNC_STATUSES: tuple[SyncStatus, ...] = ("Synced", "OutOfSync", "Unknown")
HEALTH_STATUSES: tuple[HealthStatus, ...] = ("Healthy", "Progressing", "Degraded")

Kind = Literal["Org", "Membership", "Budget", "Route"]
"""The manifest kinds, in dependency order (apply in this order, prune in the reverse one)."""
KINDS: tuple[Kind, ...] = ("Org", "Membership", "Budget", "Route")

ResourceSyncStatus = Literal["Synced", "OutOfSync", "Unknown", "Progressing"]
"""One resource: a sync status, or Progressing (applied, waiting on someone: a Membership whose
invitation is not accepted yet)."""
ResourceAction = Literal[
    "created",
    "updated",
    "unchanged",
    "would_create",
    "would_update",
    "failed",
    "invited",
    "waiting",
    "pruned",
    "would_prune",
    "requires_pruning",
    "conflict",
]
"""What a reconcile did with one resource. `invited` / `waiting`: a Membership's invitation was
sent now / earlier and is not accepted yet. `pruned`: it left Git and was deleted
(`sync_policy.prune`); `requires_pruning`: it left Git and prune is off, so it stays;
`conflict`: another Application manages it, so this one never applies it."""

DEFAULT_POLL_INTERVAL_SECONDS = 60
MAX_INTERVAL_SECONDS = 86_400
RECENT_OPERATIONS = 10
"""How many operations an Application's status keeps (newest first)."""

# A DNS-label-like slug: it names the Application in URLs and logs.
SLUG_PATTERN = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
Slug = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=SLUG_PATTERN)]


def _repo_url(value: str) -> str:
    # `<transport>::<address>` runs a remote helper (`ext::` runs any command): refused.
    head, sep, _ = value.partition("::")
    if sep and "/" not in head:
        raise ValueError("remote helpers (transport::address) are not allowed")
    return value


# Anything git can fetch from: a local path, file://, https://, ssh://. Printable, bounded; git
# itself refuses what it cannot reach (reported as a condition, not a 5xx).
RepoUrl = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=2000, pattern=r"^[^\x00-\x1f\x7f\s-][^\x00-\x1f\x7f]*$"
    ),
    AfterValidator(_repo_url),
]


def _branch(value: str) -> str:
    if ".." in value or "//" in value or value.endswith(("/", ".", ".lock")):
        raise ValueError("not a valid git branch name")
    return value


def _repo_path(value: str) -> str:
    if value.startswith("/") or ".." in value.split("/"):
        raise ValueError("must be a relative path inside the repository, without '..'")
    return value


# A branch name as git allows it, never starting with '-' (it reaches git's command line).
Branch = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._/][A-Za-z0-9._/-]*$"),
    AfterValidator(_branch),
]
# A relative directory inside the repository: no absolute path, no '..' segment.
RepoPath = Annotated[
    str,
    StringConstraints(min_length=1, max_length=500, pattern=r"^[A-Za-z0-9._ /-]+$"),
    AfterValidator(_repo_path),
]
IntervalSeconds = Annotated[StrictInt, Field(ge=1, le=MAX_INTERVAL_SECONDS)]
# An identity org ID (`org_...`): the org that owns an org-scoped Application.
OrgId = Annotated[
    str, StringConstraints(min_length=5, max_length=64, pattern=r"^org_[A-Za-z0-9_-]+$")
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SyncPolicy(_Request):
    """`automated`: apply what Git changed (false: only report it). `self_heal`: also revert
    drift, a live change made outside Git after its source was applied (false: report it as
    OutOfSync with message `drift`). `prune`: delete what this Application manages (its
    inventory) once its manifest left Git (false: report it as `requires_pruning`)."""

    automated: StrictBool = True
    self_heal: StrictBool = False
    prune: StrictBool = False


class ApplicationCreate(_Request):
    """Body of `POST /v1/applications`. `org_id`: the org that owns it (None: platform-wide,
    for the service token and platform admins only); its manifests may then concern only that
    org (decision 15). It cannot change later."""

    name: Slug
    org_id: OrgId | None = None
    repo_url: RepoUrl
    branch: Branch = "main"
    path: RepoPath = "."
    sync_policy: SyncPolicy = Field(default_factory=SyncPolicy)
    poll_interval_seconds: IntervalSeconds = DEFAULT_POLL_INTERVAL_SECONDS
    drift_check_interval_seconds: IntervalSeconds | None = None


class ApplicationUpdate(_Request):
    """Body of `PATCH /v1/applications/{name}`: the fields given change, the rest stay."""

    repo_url: RepoUrl | None = None
    branch: Branch | None = None
    path: RepoPath | None = None
    sync_policy: SyncPolicy | None = None
    poll_interval_seconds: IntervalSeconds | None = None
    drift_check_interval_seconds: IntervalSeconds | None = None


class FieldDiff(APIModel):
    """One field that differs: `live` (None when the resource does not exist) vs `desired`."""

    field: str
    live: Any = None
    desired: Any = None


class ResourceStatus(APIModel):
    """One manifest's resource: whether live state matches it, what was done, and the diff."""

    kind: Kind
    name: str
    status: ResourceSyncStatus
    action: ResourceAction
    live_id: str | None = None
    diff: list[FieldDiff] = Field(default_factory=list)
    message: str = ""


class Condition(APIModel):
    """Why an Application is not Synced/Healthy; for invalid manifests, where and what."""

    type: str
    reason: str
    message: str
    file: str | None = None
    document: int | None = None
    field: str | None = None


class Operation(APIModel):
    """One reconcile: what triggered it, the revision, and the request ID every call it made
    carried. That ID is the wire field `request_id`, `reconcile_request_id` in Python (a
    model's `.request_id` is the `X-Request-ID` of the response it came from).

    What it changed: `created`, `updated` and `pruned` name resources as `Kind/name` (a
    Membership invited counts as created), and `writes` counts the state-changing calls it made
    to identity, budgets and the gateway (failed ones too): a reconcile that found nothing to do
    has `writes == 0`."""

    id: str
    trigger: str
    reconcile_request_id: str = Field(alias="request_id")
    revision: str | None = None
    phase: Literal["Succeeded", "Failed"]
    message: str = ""
    started_at: datetime
    finished_at: datetime
    created: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    pruned: list[str] = Field(default_factory=list)
    writes: int = 0


class FetchFailure(APIModel):
    """Git could not be read (decision 14): the error (credentials in the URL masked), how many
    fetches in a row failed, and when the next one is due (exponential backoff from 1 s, capped
    at the poll interval). Nothing is applied meanwhile; a refresh still fetches at once."""

    reason: str
    message: str
    attempts: int
    next_retry_at: datetime


class InventoryEntry(APIModel):
    """A resource this Application created or manages (prune only ever removes these). `live_id`:
    the org ID (Org, Budget), `<org ID>/<alias>` (Route), `<org ID>/<email>` (Membership)."""

    kind: Kind
    name: str
    live_id: str


class ApplicationStatus(APIModel):
    sync: SyncStatus = "Unknown"
    health: HealthStatus = "Progressing"
    revision: str | None = None
    last_applied_revision: str | None = None
    # `repo#branch:path@revision` last applied in full: a later difference from it is drift.
    last_applied_source: str | None = None
    last_attempted_revision: str | None = None
    last_handled_refresh: str | None = None
    reconciled_at: datetime | None = None
    resources: list[ResourceStatus] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)
    operations: list[Operation] = Field(default_factory=list)
    inventory: list[InventoryEntry] = Field(default_factory=list)
    # Set while git cannot be read; cleared by the first fetch that succeeds.
    fetch_failure: FetchFailure | None = None


class Application(APIModel):
    id: str
    name: str
    org_id: str | None = None
    org_name: str | None = None
    repo_url: str
    branch: str
    path: str
    sync_policy: SyncPolicy
    poll_interval_seconds: int
    drift_check_interval_seconds: int | None = None
    created_at: datetime
    updated_at: datetime
    status: ApplicationStatus = Field(default_factory=ApplicationStatus)


class ApplicationList(APIModel):
    data: list[Application]


class PreviewRequest(_Request):
    """Body of `POST /v1/applications/{name}/diff`: a commit SHA (7-40 hex digits, looked up
    first) or a branch name of the Application's repository, e.g. a pull request's branch."""

    revision: Branch


class Preview(APIModel):
    """What a reconcile of `revision` would do, computed against live state and applied nowhere:
    the Application's status and inventory stay as they are. `problems` are why it could not be
    compared (invalid manifests with file, document and field; a missing path) or a live read
    that failed; `sync` is Unknown when the manifests are invalid."""

    application: str
    requested: str
    revision: str
    sync: SyncStatus
    resources: list[ResourceStatus] = Field(default_factory=list)
    problems: list[Condition] = Field(default_factory=list)


class RefreshAccepted(APIModel):
    """The answer to `POST .../refresh`: once a reconcile has handled it, the Application's
    `status.last_handled_refresh` is this token or a later one. Tokens sort in the order they
    were issued (`rfr_<zero-padded sequence>_<random>`), so "this one or later" is `>=`."""

    application: str
    token: str


class HookResult(APIModel):
    """The answer to `POST /v1/hooks/git`: what the delivery was and what it caused.

    `action` is `refreshed` (each Application following the pushed repository and branch got a
    refresh, in `refreshed` with its token), `ignored` (a tag push, another event, or a push no
    Application follows; `refreshed` is empty) or `pong` (GitHub's `ping`). `reason` says why."""

    host: Literal["github", "gitlab"]
    event: str
    action: Literal["refreshed", "ignored", "pong"]
    reason: str
    ref: str | None = None
    revision: str | None = None
    refreshed: list[RefreshAccepted] = Field(default_factory=list)


__all__ = [
    "DEFAULT_POLL_INTERVAL_SECONDS",
    "HEALTH_STATUSES",
    "KINDS",
    "MAX_INTERVAL_SECONDS",
    "RECENT_OPERATIONS",
    "SLUG_PATTERN",
    "SYNC_STATUSES",
    "Application",
    "ApplicationCreate",
    "ApplicationList",
    "ApplicationStatus",
    "ApplicationUpdate",
    "Condition",
    "FetchFailure",
    "FieldDiff",
    "HealthStatus",
    "HookResult",
    "InventoryEntry",
    "Kind",
    "Operation",
    "OrgId",
    "Preview",
    "PreviewRequest",
    "RefreshAccepted",
    "ResourceAction",
    "ResourceStatus",
    "ResourceSyncStatus",
    "Slug",
    "SyncPolicy",
    "SyncStatus",
]
