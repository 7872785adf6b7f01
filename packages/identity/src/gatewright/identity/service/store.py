"""Identity's tables (all prefixed `identity_`) and keyword-only data functions.

Functions take an open `Session` inside a transaction (`with db.session() as s, s.begin():`) and
never commit themselves. Seeding functions accept explicit IDs, so provider states can create
exactly the records a pact names. Secrets (passwords, invitation tokens, API-key secrets) are
stored only as hashes: argon2id for passwords, SHA-256 for high-entropy random tokens.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from gatewright.identity.models import (
    ApiKey,
    Invitation,
    InvitationStatus,
    Member,
    Org,
    Role,
    User,
)
from gatewright.servicekit.audit import AuditOutbox
from gatewright.servicekit.db import UTCDateTime

metadata = MetaData()
# identity_audit_outbox: audit events, recorded in the transaction of the change they describe.
outbox = AuditOutbox("identity", metadata)


users = Table(
    "identity_users",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(200)),
    Column("password_hash", String(255), nullable=False),
    Column("is_platform_admin", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
)

orgs = Table(
    "identity_orgs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

memberships = Table(
    "identity_memberships",
    metadata,
    Column("org_id", String(40), ForeignKey("identity_orgs.id"), primary_key=True),
    Column("user_id", String(40), ForeignKey("identity_users.id"), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

invitations = Table(
    "identity_invitations",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("org_id", String(40), ForeignKey("identity_orgs.id"), nullable=False, index=True),
    Column("email", String(254), nullable=False),
    Column("role", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_by", String(40), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("accepted_at", UTCDateTime),
    Column("accepted_by", String(40)),
)

api_keys = Table(
    "identity_api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("org_id", String(40), ForeignKey("identity_orgs.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("models", JSON),
    Column("expires_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(40), nullable=False),
    Column("revoked_at", UTCDateTime),
    Column("rate_limit_rpm", Integer),
)

# Services (gateway replicas) that cache key verifications and must hear of revocations at once.
revocation_hooks = Table(
    "identity_revocation_hooks",
    metadata,
    Column("url", String(500), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
)


# -- helpers ---------------------------------------------------------------------------------
def now() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def reset(s: Session) -> None:
    """Delete every row (children first). For tests and provider states only."""
    for table in (
        api_keys,
        invitations,
        memberships,
        orgs,
        users,
        revocation_hooks,
        outbox.table,
    ):
        s.execute(delete(table))


# -- users -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Credentials:
    user_id: str
    email: str
    password_hash: str


def _user(row: Any) -> User:
    return User(
        id=row.id,
        email=row.email,
        name=row.name,
        is_platform_admin=row.is_platform_admin,
        created_at=row.created_at,
    )


def create_user(
    s: Session,
    *,
    email: str,
    password_hash: str,
    name: str | None = None,
    is_platform_admin: bool = False,
    user_id: str | None = None,
) -> User:
    values = {
        "id": user_id or new_id("usr"),
        "email": email.lower(),
        "name": name,
        "password_hash": password_hash,
        "is_platform_admin": is_platform_admin,
        "created_at": now(),
    }
    s.execute(users.insert().values(**values))
    return _user(_Row(values))


def get_user(s: Session, *, user_id: str) -> User | None:
    row = s.execute(select(users).where(users.c.id == user_id)).first()
    return _user(row) if row else None


def list_users(s: Session, *, email_prefix: str = "") -> list[User]:
    """Every user whose email starts with `email_prefix` (matched literally, case-blind as
    emails are stored lower-case), oldest first."""
    query = select(users).order_by(users.c.created_at, users.c.id)
    if email_prefix:
        query = query.where(users.c.email.startswith(email_prefix.lower(), autoescape=True))
    return [_user(row) for row in s.execute(query).all()]


def orgs_owned_by(s: Session, *, user_id: str) -> list[str]:
    """The orgs where `user_id` is an owner."""
    rows = s.execute(
        select(memberships.c.org_id).where(
            memberships.c.user_id == user_id, memberships.c.role == "owner"
        )
    ).all()
    return sorted(r.org_id for r in rows)


def delete_user(s: Session, *, user_id: str) -> bool:
    """Delete the user with their memberships; False when there was none."""
    s.execute(delete(memberships).where(memberships.c.user_id == user_id))
    result = cast(CursorResult[Any], s.execute(delete(users).where(users.c.id == user_id)))
    return result.rowcount > 0


def get_credentials(s: Session, *, email: str) -> Credentials | None:
    row = s.execute(
        select(users.c.id, users.c.email, users.c.password_hash).where(
            users.c.email == email.lower()
        )
    ).first()
    return Credentials(row.id, row.email, row.password_hash) if row else None


def set_password_hash(s: Session, *, user_id: str, password_hash: str) -> None:
    s.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))


def ensure_platform_admin(s: Session, *, email: str, password_hash: str) -> str:
    """Create the bootstrap admin, or make the existing account a platform admin. Idempotent:
    an existing admin keeps its password (so restarting never resets a changed password)."""
    creds = get_credentials(s, email=email)
    if creds is None:
        return create_user(
            s,
            email=email,
            password_hash=password_hash,
            name="Platform admin",
            is_platform_admin=True,
        ).id
    s.execute(update(users).where(users.c.id == creds.user_id).values(is_platform_admin=True))
    return creds.user_id


# -- orgs and memberships --------------------------------------------------------------------
def create_org(s: Session, *, name: str, owner_id: str, org_id: str | None = None) -> Org:
    org = Org(id=org_id or new_id("org"), name=name, created_at=now())
    s.execute(orgs.insert().values(id=org.id, name=org.name, created_at=org.created_at))
    add_member(s, org_id=org.id, user_id=owner_id, role="owner")
    return org


def get_org(s: Session, *, org_id: str) -> Org | None:
    row = s.execute(select(orgs).where(orgs.c.id == org_id)).first()
    return Org(id=row.id, name=row.name, created_at=row.created_at) if row else None


def list_orgs_for_user(s: Session, *, user_id: str) -> list[Org]:
    rows = s.execute(
        select(orgs)
        .join(memberships, memberships.c.org_id == orgs.c.id)
        .where(memberships.c.user_id == user_id)
        .order_by(orgs.c.created_at, orgs.c.id)
    ).all()
    return [Org(id=r.id, name=r.name, created_at=r.created_at) for r in rows]


def list_orgs(s: Session, *, name_prefix: str = "") -> list[Org]:
    """Every org whose name starts with `name_prefix` (literally), oldest first."""
    query = select(orgs).order_by(orgs.c.created_at, orgs.c.id)
    if name_prefix:
        query = query.where(orgs.c.name.startswith(name_prefix, autoescape=True))
    return [Org(id=r.id, name=r.name, created_at=r.created_at) for r in s.execute(query).all()]


def delete_org(s: Session, *, org_id: str) -> bool:
    """Delete the org with its memberships, invitations and keys (so its keys stop verifying)."""
    for table in (api_keys, invitations, memberships):
        s.execute(delete(table).where(table.c.org_id == org_id))
    result = cast(CursorResult[Any], s.execute(delete(orgs).where(orgs.c.id == org_id)))
    return result.rowcount > 0


def add_member(s: Session, *, org_id: str, user_id: str, role: Role) -> None:
    s.execute(
        memberships.insert().values(org_id=org_id, user_id=user_id, role=role, created_at=now())
    )


def get_role(s: Session, *, org_id: str, user_id: str) -> Role | None:
    role = s.execute(
        select(memberships.c.role).where(
            memberships.c.org_id == org_id, memberships.c.user_id == user_id
        )
    ).scalar_one_or_none()
    return cast(Role | None, role)


def list_members(s: Session, *, org_id: str) -> list[Member]:
    rows = s.execute(
        select(
            users.c.id, users.c.email, users.c.name, memberships.c.role, memberships.c.created_at
        )
        .join(memberships, memberships.c.user_id == users.c.id)
        .where(memberships.c.org_id == org_id)
        .order_by(memberships.c.created_at, users.c.id)
    ).all()
    return [
        Member(user_id=r.id, email=r.email, name=r.name, role=r.role, joined_at=r.created_at)
        for r in rows
    ]


def get_member(s: Session, *, org_id: str, user_id: str) -> Member | None:
    return next((m for m in list_members(s, org_id=org_id) if m.user_id == user_id), None)


def count_owners(s: Session, *, org_id: str) -> int:
    return int(
        s.execute(
            select(func.count()).where(
                memberships.c.org_id == org_id, memberships.c.role == "owner"
            )
        ).scalar_one()
    )


def set_role(s: Session, *, org_id: str, user_id: str, role: Role) -> None:
    s.execute(
        update(memberships)
        .where(memberships.c.org_id == org_id, memberships.c.user_id == user_id)
        .values(role=role)
    )


def remove_member(s: Session, *, org_id: str, user_id: str) -> None:
    s.execute(
        delete(memberships).where(memberships.c.org_id == org_id, memberships.c.user_id == user_id)
    )


# -- invitations -----------------------------------------------------------------------------
def _status(row: Any, at: datetime) -> InvitationStatus:
    if row.accepted_at is not None:
        return "accepted"
    return "expired" if row.expires_at <= at else "pending"


def _invitation(row: Any) -> Invitation:
    return Invitation(
        id=row.id,
        org_id=row.org_id,
        email=row.email,
        role=row.role,
        status=_status(row, now()),
        expires_at=row.expires_at,
        created_at=row.created_at,
    )


def create_invitation(
    s: Session,
    *,
    org_id: str,
    email: str,
    role: Role,
    token_hash: str,
    created_by: str,
    expires_at: datetime,
    invitation_id: str | None = None,
) -> Invitation:
    values = {
        "id": invitation_id or new_id("inv"),
        "org_id": org_id,
        "email": email.lower(),
        "role": role,
        "token_hash": token_hash,
        "created_by": created_by,
        "created_at": now(),
        "expires_at": expires_at,
        "accepted_at": None,
    }
    s.execute(invitations.insert().values(**values))
    return _invitation(_Row(values))


def list_invitations(s: Session, *, org_id: str) -> list[Invitation]:
    rows = s.execute(
        select(invitations)
        .where(invitations.c.org_id == org_id)
        .order_by(invitations.c.created_at, invitations.c.id)
    ).all()
    return [_invitation(r) for r in rows]


def find_invitation(s: Session, *, token_hash: str) -> Invitation | None:
    row = s.execute(select(invitations).where(invitations.c.token_hash == token_hash)).first()
    return _invitation(row) if row else None


def get_invitation(s: Session, *, invitation_id: str) -> Invitation | None:
    row = s.execute(select(invitations).where(invitations.c.id == invitation_id)).first()
    return _invitation(row) if row else None


def list_pending_invitations(s: Session, *, email: str) -> list[Invitation]:
    """The pending, unexpired invitations addressed to `email`, oldest first."""
    rows = s.execute(
        select(invitations)
        .where(
            invitations.c.email == email.lower(),
            invitations.c.accepted_at.is_(None),
            invitations.c.expires_at > now(),
        )
        .order_by(invitations.c.created_at, invitations.c.id)
    ).all()
    return [_invitation(r) for r in rows]


def mark_invitation_accepted(s: Session, *, invitation_id: str, user_id: str) -> bool:
    """Single use under concurrency: only the first conditional UPDATE changes a row."""
    result = cast(
        CursorResult[Any],
        s.execute(
            update(invitations)
            .where(invitations.c.id == invitation_id, invitations.c.accepted_at.is_(None))
            .values(accepted_at=now(), accepted_by=user_id)
        ),
    )
    return result.rowcount == 1


# -- API keys --------------------------------------------------------------------------------
@dataclass(frozen=True)
class KeyRecord:
    key: ApiKey

    @property
    def revoked(self) -> bool:
        return self.key.revoked_at is not None

    def expired(self, at: datetime) -> bool:
        return self.key.expires_at is not None and self.key.expires_at <= at


def _key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        org_id=row.org_id,
        name=row.name,
        prefix=row.prefix,
        models=row.models,
        expires_at=row.expires_at,
        created_at=row.created_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
        rate_limit_rpm=row.rate_limit_rpm,
    )


def create_api_key(
    s: Session,
    *,
    org_id: str,
    name: str,
    secret: str,
    created_by: str,
    models: list[str] | None = None,
    expires_at: datetime | None = None,
    rate_limit_rpm: int | None = None,
    key_id: str | None = None,
) -> ApiKey:
    values = {
        "id": key_id or new_id("key"),
        "org_id": org_id,
        "name": name,
        "prefix": secret[:12],
        "secret_hash": sha256_hex(secret),
        "models": models,
        "expires_at": expires_at,
        "created_at": now(),
        "created_by": created_by,
        "revoked_at": None,
        "rate_limit_rpm": rate_limit_rpm,
    }
    s.execute(api_keys.insert().values(**values))
    return _key(_Row(values))


def list_api_keys(s: Session, *, org_id: str) -> list[ApiKey]:
    rows = s.execute(
        select(api_keys)
        .where(api_keys.c.org_id == org_id)
        .order_by(api_keys.c.created_at, api_keys.c.id)
    ).all()
    return [_key(r) for r in rows]


def get_api_key(s: Session, *, org_id: str, key_id: str) -> ApiKey | None:
    row = s.execute(
        select(api_keys).where(api_keys.c.id == key_id, api_keys.c.org_id == org_id)
    ).first()
    return _key(row) if row else None


def revoke_api_key(s: Session, *, org_id: str, key_id: str) -> ApiKey | None:
    """Set `revoked_at` once; revoking again keeps the first time (idempotent)."""
    s.execute(
        update(api_keys)
        .where(
            api_keys.c.id == key_id, api_keys.c.org_id == org_id, api_keys.c.revoked_at.is_(None)
        )
        .values(revoked_at=now())
    )
    return get_api_key(s, org_id=org_id, key_id=key_id)


def list_api_key_ids(s: Session, *, org_id: str) -> list[str]:
    return list(s.execute(select(api_keys.c.id).where(api_keys.c.org_id == org_id)).scalars())


def add_revocation_hook(s: Session, *, url: str) -> None:
    """Register `url` once (idempotent)."""
    exists = s.execute(select(revocation_hooks.c.url).where(revocation_hooks.c.url == url)).first()
    if exists is None:
        s.execute(revocation_hooks.insert().values(url=url, created_at=now()))


def list_revocation_hooks(s: Session) -> list[str]:
    return list(
        s.execute(select(revocation_hooks.c.url).order_by(revocation_hooks.c.url)).scalars()
    )


def find_api_key(s: Session, *, secret: str) -> KeyRecord | None:
    row = s.execute(select(api_keys).where(api_keys.c.secret_hash == sha256_hex(secret))).first()
    return KeyRecord(_key(row)) if row else None


class _Row:
    """Attribute access over a dict of inserted values (so inserts return models directly)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
