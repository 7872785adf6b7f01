"""Wire models shared by the identity client and the identity service.

Request models (`*Request`, `*Create`, `*Update`) forbid unknown fields, so a typo in a field name
is a 422 instead of a silently ignored value. Response models subclass core `APIModel`: they
ignore fields a newer provider adds and carry the `request_id` of the response they came from.
Times are timezone-aware UTC datetimes (RFC 3339 on the wire); IDs are prefixed opaque strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gatewright.core import APIModel, UTCDateTime

Role = Literal["owner", "admin", "member", "viewer"]
"""A member's role in one org, most to least powerful."""

ROLES: tuple[Role, ...] = ("owner", "admin", "member", "viewer")

Permission = Literal[
    "org:read",
    "org:delete",
    "members:read",
    "members:invite",
    "members:manage",
    "keys:create",
    "keys:read",
    "keys:revoke",
    "budgets:set",
    "budgets:read",
    "audit:read",
    "routes:manage",
    "gitops:manage",
]
"""Every permission the authorization check knows; `PERMISSION_MATRIX` maps each to roles."""

_ALL: frozenset[Role] = frozenset(ROLES)
_OWNER_ADMIN: frozenset[Role] = frozenset({"owner", "admin"})

PERMISSION_MATRIX: Mapping[Permission, frozenset[Role]] = MappingProxyType(
    {
        "org:read": _ALL,
        "org:delete": frozenset({"owner"}),
        "members:read": _ALL,
        "members:invite": _OWNER_ADMIN,
        "members:manage": _OWNER_ADMIN,
        "keys:create": frozenset({"owner", "admin", "member"}),
        "keys:read": _ALL,
        "keys:revoke": frozenset({"owner", "admin", "member"}),
        "budgets:set": _OWNER_ADMIN,
        "budgets:read": _ALL,
        "audit:read": _OWNER_ADMIN,
        "routes:manage": _OWNER_ADMIN,
        "gitops:manage": _OWNER_ADMIN,
    }
)
"""THE permission matrix: which org roles hold which permission, written once. Identity decides
with it; it ships with the client so that a caller (a UI, the e2e suite proving every cell of it)
reads the same table. A platform admin passes every check; a non-member holds nothing."""

InvitationStatus = Literal["pending", "accepted", "expired"]

Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        min_length=3,
        max_length=254,
        pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$",
    ),
]
# No control characters (PostgreSQL refuses NUL in text; logs and UIs choke on the rest).
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_PRINTABLE),
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=1024)]
# A login never rejects a password for its shape: every wrong password is the same 401.
LoginPassword = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
MAX_SECRET_LENGTH = 512
"""The longest API-key secret or invitation token identity reads: a service that passes on what
a caller sent must refuse a longer one itself, as identity would refuse it."""
Opaque = Annotated[str, StringConstraints(min_length=1, max_length=MAX_SECRET_LENGTH)]
ModelName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_PRINTABLE)]

MAX_INVITATION_TTL_SECONDS = 30 * 24 * 3600


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- auth ------------------------------------------------------------------------------------
class LoginRequest(_Request):
    email: Email
    password: LoginPassword


class AccessToken(APIModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the scheme, not a secret
    expires_in: int
    user_id: str


# -- users -----------------------------------------------------------------------------------
class User(APIModel):
    id: str
    email: str
    name: str | None = None
    is_platform_admin: bool = False
    created_at: datetime


class UserList(APIModel):
    data: list[User]


# -- orgs and members ------------------------------------------------------------------------
class OrgCreate(_Request):
    """Body of `POST /v1/orgs`. A user creates an org for themself (they become its owner) and
    sends no `owner_email`; a service (the service token, e.g. gitops applying an `Org`
    manifest) must name the owner, an existing user (decision 11)."""

    name: Name
    owner_email: Email | None = None


class Org(APIModel):
    id: str
    name: str
    created_at: datetime


class Member(APIModel):
    user_id: str
    email: str
    name: str | None = None
    role: Role
    joined_at: datetime


class OrgDetail(Org):
    members: list[Member] = Field(default_factory=list)


class OrgList(APIModel):
    data: list[Org]


class MemberList(APIModel):
    data: list[Member]


class MemberUpdate(_Request):
    role: Role


# -- invitations -----------------------------------------------------------------------------
class InvitationCreate(_Request):
    email: Email
    role: Role
    ttl_seconds: int | None = Field(default=None, ge=1, le=MAX_INVITATION_TTL_SECONDS)


class Invitation(APIModel):
    id: str
    org_id: str
    email: str
    role: Role
    status: InvitationStatus
    expires_at: datetime
    created_at: datetime | None = None


class InvitationCreated(Invitation):
    token: str = Field(description="Shown once; identity keeps only its hash.")


class InvitationList(APIModel):
    data: list[Invitation]


class InvitationAccept(_Request):
    token: Opaque
    password: Password
    name: Name | None = None


class InvitationAccepted(APIModel):
    user_id: str
    org_id: str
    role: Role


# -- API keys --------------------------------------------------------------------------------
MAX_RATE_LIMIT_RPM = 1_000_000


class ApiKeyCreate(_Request):
    name: Name
    models: list[ModelName] | None = Field(default=None, max_length=100)
    expires_at: UTCDateTime | None = None
    rate_limit_rpm: int | None = Field(
        default=None, ge=1, le=MAX_RATE_LIMIT_RPM, description="Requests per minute at the gateway."
    )


class ApiKey(APIModel):
    id: str
    org_id: str
    name: str
    prefix: str
    models: list[str] | None = None
    expires_at: datetime | None = None
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    rate_limit_rpm: int | None = None


class ApiKeyCreated(ApiKey):
    secret: str = Field(description="Shown once (gwk_...); identity keeps only its hash.")


class ApiKeyList(APIModel):
    data: list[ApiKey]


class KeyVerifyRequest(_Request):
    secret: Opaque


class KeyVerification(APIModel):
    key_id: str
    org_id: str
    models: list[str] | None = None
    expires_at: datetime | None = None
    rate_limit_rpm: int | None = None


class RevocationHookCreate(_Request):
    """Where identity POSTs `{"key_ids": [...], "org_id": ...}` when keys stop being valid."""

    url: Annotated[
        str, StringConstraints(min_length=8, max_length=500, pattern=r"^https?://[^\s]+$")
    ]


# -- authorization ---------------------------------------------------------------------------
MAX_ID_LENGTH = 100
"""The longest subject or org ID the authorization check accepts: a service that asks about an
ID from its own path must refuse a longer one itself (422), not pass identity's 422 on."""


class AuthzCheckRequest(_Request):
    subject: Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH)]
    org_id: Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH)]
    permission: Permission


class AuthzDecision(APIModel):
    allowed: bool
    role: str = Field(description="The subject's role in the org, or 'none'.")
    permission: str
    org_id: str
    reason: str


__all__ = [
    "MAX_ID_LENGTH",
    "MAX_INVITATION_TTL_SECONDS",
    "MAX_SECRET_LENGTH",
    "ROLES",
    "AccessToken",
    "ApiKey",
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyList",
    "AuthzCheckRequest",
    "AuthzDecision",
    "Invitation",
    "InvitationAccept",
    "InvitationAccepted",
    "InvitationCreate",
    "InvitationCreated",
    "InvitationList",
    "InvitationStatus",
    "KeyVerification",
    "KeyVerifyRequest",
    "LoginRequest",
    "Member",
    "MemberList",
    "MemberUpdate",
    "Org",
    "OrgCreate",
    "OrgDetail",
    "OrgList",
    "Permission",
    "Role",
    "User",
    "UserList",
]
