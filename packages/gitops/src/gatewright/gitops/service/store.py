"""Gitops's tables (all prefixed `gitops_`) and keyword-only data functions.

- `gitops_applications`: one row per Application: its spec, its owning org (`org_id`, and the
  org's name as identity had it at the create, for the scope check), its last status (a JSON
  document, written whole by each reconcile) and its refresh bookkeeping: `refresh_seq` counts
  refreshes asked for, `requested_refresh` is the newest token. A reconcile reads the token when
  it starts and, when it finishes, records it as `last_handled_refresh`: a refresh that arrives
  while it runs has a newer token, so it is not marked handled and the scheduler runs once more.
- `gitops_inventory`: what each Application created or manages (kind, manifest name → live
  ID). Live IDs of orgs come from here (identity names orgs by ID, Git by name); prune only
  ever removes entries of this table.
- `gitops_claims`: who manages each live resource, keyed by what makes it one resource (an
  Org's name; a Budget's org; a Route's org and alias; a Membership's org and email). The key
  is the primary key, so of two Applications declaring one resource, even in two concurrent
  reconciles, exactly one inserts the claim; the other reads who holds it (a `Conflict`).
  Deleting an Application releases its claims.
- `gitops_leases`: who is reconciling each Application now (a replica's `holder` ID) and until
  when. `acquire_lease` takes it when it is free, expired or already this holder's, in one
  conditional `UPDATE` or an `INSERT` the primary key lets only one replica win, so replicas
  over one database never reconcile one Application at once (one process already never does:
  its scheduler runs one reconcile per Application).
- `gitops_invitations`: the invitation a Membership sent (per Application, org and email), so
  that later reconciles wait for it instead of inviting again; invited again once it expired.

Functions take an open `Session` and never commit; routes and the reconciler own transactions.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gatewright.gitops.models import (
    Application,
    ApplicationCreate,
    ApplicationStatus,
    ApplicationUpdate,
    InventoryEntry,
    Kind,
    SyncPolicy,
)
from gatewright.servicekit import ServiceError
from gatewright.servicekit.audit import AuditOutbox
from gatewright.servicekit.db import UTCDateTime, rowcount

metadata = MetaData()
# Gitops's own audit events (`events`), shipped to audit by servicekit's deliverer.
outbox = AuditOutbox("gitops", metadata)

applications = Table(
    "gitops_applications",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(63), nullable=False, unique=True),
    # The owning org (None: platform-wide) and its name when created (identity has no rename).
    Column("org_id", String(64), index=True),
    Column("org_name", String(200)),
    Column("repo_url", String(2000), nullable=False),
    Column("branch", String(200), nullable=False),
    Column("path", String(500), nullable=False),
    Column("sync_policy", JSON, nullable=False),
    Column("poll_interval_seconds", Integer, nullable=False),
    Column("drift_check_interval_seconds", Integer),
    Column("status", JSON, nullable=False),
    Column("refresh_seq", Integer, nullable=False, default=0),
    Column("requested_refresh", String(64)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

inventory = Table(
    "gitops_inventory",
    metadata,
    Column("app_id", String(40), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("name", String(63), nullable=False),
    Column("live_id", String(200), nullable=False),
    PrimaryKeyConstraint("app_id", "kind", "name"),
)

claims = Table(
    "gitops_claims",
    metadata,
    Column("kind", String(16), nullable=False),
    Column("key", String(400), nullable=False),
    Column("app_id", String(40), nullable=False, index=True),
    Column("app_name", String(63), nullable=False),
    Column("name", String(63), nullable=False),  # the claimant's manifest name
    PrimaryKeyConstraint("kind", "key"),
)

invitations = Table(
    "gitops_invitations",
    metadata,
    Column("app_id", String(40), nullable=False),
    Column("org_id", String(40), nullable=False),
    Column("email", String(254), nullable=False),
    Column("invitation_id", String(40), nullable=False),
    Column("role", String(16), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("app_id", "org_id", "email"),
)


leases = Table(
    "gitops_leases",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)


def acquire_lease(s: Session, *, app_id: str, holder: str, now: datetime, seconds: float) -> bool:
    """Take (or renew) the Application's lease until `now + seconds`: True when `holder` has it,
    False while another holder's lease has not expired."""
    until = now + timedelta(seconds=seconds)
    free = or_(leases.c.holder == holder, leases.c.expires_at <= now)
    take = update(leases).where(leases.c.app_id == app_id, free)
    if rowcount(s.execute(take.values(holder=holder, expires_at=until))):
        return True
    try:
        with s.begin_nested():
            s.execute(insert(leases).values(app_id=app_id, holder=holder, expires_at=until))
    except IntegrityError:  # another holder's, and not expired (or it just took it)
        return False
    return True


def release_lease(s: Session, *, app_id: str, holder: str) -> None:
    """Give the lease up (only `holder`'s own)."""
    s.execute(delete(leases).where(leases.c.app_id == app_id, leases.c.holder == holder))


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def not_found(name: str) -> ServiceError:
    return ServiceError(
        404, "application_not_found", f"No Application named {name!r}.", details={"name": name}
    )


def _application(s: Session, row: Any) -> Application:
    status = ApplicationStatus.model_validate(row.status)
    status.inventory = list_inventory(s, app_id=row.id)
    return Application(
        id=row.id,
        name=row.name,
        org_id=row.org_id,
        org_name=row.org_name,
        repo_url=row.repo_url,
        branch=row.branch,
        path=row.path,
        sync_policy=SyncPolicy.model_validate(row.sync_policy),
        poll_interval_seconds=row.poll_interval_seconds,
        drift_check_interval_seconds=row.drift_check_interval_seconds,
        created_at=row.created_at,
        updated_at=row.updated_at,
        status=status,
    )


def create_application(
    s: Session, *, body: ApplicationCreate, now: datetime, org_name: str | None = None
) -> Application:
    values = {
        "id": new_id("app"),
        "name": body.name,
        "org_id": body.org_id,
        "org_name": org_name,
        "repo_url": body.repo_url,
        "branch": body.branch,
        "path": body.path,
        "sync_policy": body.sync_policy.model_dump(),
        "poll_interval_seconds": body.poll_interval_seconds,
        "drift_check_interval_seconds": body.drift_check_interval_seconds,
        "status": ApplicationStatus().model_dump(mode="json"),
        "refresh_seq": 0,
        "requested_refresh": None,
        "created_at": now,
        "updated_at": now,
    }
    try:
        with s.begin_nested():
            s.execute(applications.insert().values(**values))
    except IntegrityError:
        raise ServiceError(
            409,
            "application_exists",
            f"An Application named {body.name!r} exists already.",
            details={"name": body.name},
        ) from None
    return get_application(s, name=body.name)


def get_application(s: Session, *, name: str) -> Application:
    row = s.execute(select(applications).where(applications.c.name == name)).first()
    if row is None:
        raise not_found(name)
    return _application(s, row)


def list_applications(s: Session) -> list[Application]:
    rows = s.execute(select(applications).order_by(applications.c.name)).all()
    return [_application(s, row) for row in rows]


def list_sources(s: Session) -> list[tuple[str, str, str]]:
    """`(name, repo_url, branch)` of every Application (what a webhook is matched against)."""
    rows = s.execute(
        select(applications.c.name, applications.c.repo_url, applications.c.branch).order_by(
            applications.c.name
        )
    ).all()
    return [(r.name, r.repo_url, r.branch) for r in rows]


@dataclass(frozen=True)
class ScheduleEntry:
    name: str
    poll_interval_seconds: int
    drift_check_interval_seconds: int | None


def list_schedule(s: Session) -> list[ScheduleEntry]:
    """Name and intervals of every Application (what the scheduler needs, nothing more)."""
    rows = s.execute(
        select(
            applications.c.name,
            applications.c.poll_interval_seconds,
            applications.c.drift_check_interval_seconds,
        ).order_by(applications.c.name)
    ).all()
    return [
        ScheduleEntry(r.name, r.poll_interval_seconds, r.drift_check_interval_seconds) for r in rows
    ]


def update_application(
    s: Session, *, name: str, body: ApplicationUpdate, now: datetime
) -> Application:
    changes: dict[str, Any] = {
        field: value
        for field, value in body.model_dump(exclude_unset=True).items()
        # Only the interval for drift checks may be cleared (null = no drift checks).
        if value is not None or field == "drift_check_interval_seconds"
    }
    if not changes:
        return get_application(s, name=name)
    result = s.execute(
        update(applications).where(applications.c.name == name).values(**changes, updated_at=now)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise not_found(name)
    return get_application(s, name=name)


def delete_application(s: Session, *, name: str) -> None:
    """Forget the Application: its claims are released (another Application may take them), its
    inventory and invitations forgotten; the live resources stay."""
    app = get_application(s, name=name)
    release(s, app_id=app.id)
    s.execute(applications.delete().where(applications.c.id == app.id))


def release(s: Session, *, app_id: str) -> None:
    """Drop an Application's inventory, claims and invitations (it was deleted; a reconcile that
    was running then calls this again once it finds out, so it leaves no claim behind)."""
    for table in (inventory, claims, invitations, leases):
        s.execute(table.delete().where(table.c.app_id == app_id))


def request_refresh(s: Session, *, name: str) -> str:
    """A new refresh token for `name` (tokens sort in the order they are issued)."""
    row = s.execute(select(applications.c.refresh_seq).where(applications.c.name == name)).first()
    if row is None:
        raise not_found(name)
    seq = int(row.refresh_seq) + 1
    token = f"rfr_{seq:010d}_{secrets.token_hex(4)}"
    s.execute(
        update(applications)
        .where(applications.c.name == name)
        .values(refresh_seq=seq, requested_refresh=token)
    )
    return token


def requested_refresh(s: Session, *, name: str) -> str | None:
    row = s.execute(
        select(applications.c.requested_refresh).where(applications.c.name == name)
    ).first()
    return None if row is None else row.requested_refresh


def save_status(s: Session, *, app_id: str, status: ApplicationStatus) -> bool:
    """Write a reconcile's status; False when the Application was deleted meanwhile."""
    document = status.model_dump(mode="json", exclude={"inventory"})
    result = s.execute(
        update(applications).where(applications.c.id == app_id).values(status=document)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def list_inventory(s: Session, *, app_id: str) -> list[InventoryEntry]:
    rows = s.execute(
        select(inventory)
        .where(inventory.c.app_id == app_id)
        .order_by(inventory.c.kind, inventory.c.name)
    ).all()
    return [InventoryEntry(kind=r.kind, name=r.name, live_id=r.live_id) for r in rows]


def record_inventory(s: Session, *, app_id: str, kind: Kind, name: str, live_id: str) -> None:
    s.execute(
        inventory.delete().where(
            inventory.c.app_id == app_id, inventory.c.kind == kind, inventory.c.name == name
        )
    )
    s.execute(inventory.insert().values(app_id=app_id, kind=kind, name=name, live_id=live_id))


def drop_inventory(s: Session, *, app_id: str, kind: Kind, name: str) -> None:
    """Forget a resource (pruned): its inventory entry and its claim."""
    for table in (inventory, claims):
        s.execute(
            table.delete().where(
                table.c.app_id == app_id, table.c.kind == kind, table.c.name == name
            )
        )


def claim(s: Session, *, app_id: str, app_name: str, kind: Kind, key: str, name: str) -> str | None:
    """Claim the resource `(kind, key)` for the Application; None when it holds it (now or
    already), else the name of the Application that does. Reads first, so a reconcile of
    claimed resources writes nothing."""
    query = select(claims.c.app_id, claims.c.app_name, claims.c.name).where(
        claims.c.kind == kind, claims.c.key == key
    )
    row = s.execute(query).first()
    if row is None:
        values = {"kind": kind, "key": key, "app_id": app_id, "app_name": app_name, "name": name}
        try:
            with s.begin_nested():
                s.execute(claims.insert().values(**values))
        except IntegrityError:  # a concurrent reconcile of another Application was first
            row = s.execute(query).first()
            if row is None:  # released meanwhile: claim again next time
                return "another Application"
        else:
            return None
    if row.app_id != app_id:
        return str(row.app_name)
    if row.name != name:  # the manifest was renamed: the claim follows it
        s.execute(
            update(claims).where(claims.c.kind == kind, claims.c.key == key).values(name=name)
        )
    return None


def claims_of(s: Session, *, app_id: str) -> dict[tuple[str, str], str]:
    """`{(kind, key): manifest name}` of every claim the Application holds (one read per
    reconcile: a claim it holds already under that name needs no `claim`)."""
    rows = s.execute(
        select(claims.c.kind, claims.c.key, claims.c.name).where(claims.c.app_id == app_id)
    ).all()
    return {(r.kind, r.key): str(r.name) for r in rows}


def claim_holder(s: Session, *, app_id: str, kind: Kind, key: str) -> str | None:
    """What `claim` would answer, without claiming: None when the resource is free or held by
    the Application, else the name of the Application that holds it (the diff preview)."""
    row = s.execute(
        select(claims.c.app_id, claims.c.app_name).where(claims.c.kind == kind, claims.c.key == key)
    ).first()
    return None if row is None or row.app_id == app_id else str(row.app_name)


@dataclass(frozen=True)
class SentInvitation:
    invitation_id: str
    role: str
    expires_at: datetime


def sent_invitations(s: Session, *, app_id: str) -> dict[tuple[str, str], SentInvitation]:
    """`{(org ID, email): invitation}` of every invitation the Application remembers."""
    rows = s.execute(select(invitations).where(invitations.c.app_id == app_id)).all()
    return {
        (r.org_id, r.email): SentInvitation(r.invitation_id, r.role, r.expires_at) for r in rows
    }


def remember_invitation(
    s: Session, *, app_id: str, org_id: str, email: str, sent: SentInvitation | None
) -> None:
    """Remember the invitation sent to `email` (None: forget it, it was accepted)."""
    s.execute(
        invitations.delete().where(
            invitations.c.app_id == app_id,
            invitations.c.org_id == org_id,
            invitations.c.email == email,
        )
    )
    if sent is not None:
        s.execute(
            invitations.insert().values(
                app_id=app_id,
                org_id=org_id,
                email=email,
                invitation_id=sent.invitation_id,
                role=sent.role,
                expires_at=sent.expires_at,
            )
        )


def reset(s: Session) -> None:
    """Delete every row (tests and provider states only)."""
    s.execute(claims.delete())
    s.execute(invitations.delete())
    s.execute(inventory.delete())
    s.execute(applications.delete())
    s.execute(outbox.table.delete())
