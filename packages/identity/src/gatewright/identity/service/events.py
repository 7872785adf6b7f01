"""Identity's audit events: the outbox table in identity's own database, and the helpers the
routes call. Every state change is recorded in the transaction that makes it; every denial
(a failed login, a 403 on any identity route) is recorded on its own after the request's
transaction rolled back. No secret ever reaches an event: no password, no access token, no
invitation token, no API-key secret.

| action | outcome | actor | target | details |
|---|---|---|---|---|
| `auth.login` | success | user | user | `{email}` |
| `auth.login` | denied ("wrong email or password", org None) | anonymous | — | `{email}` |
| `org.create` / `org.delete` | success | user | org | `{name}` / `{keys_revoked}` |
| `org.create` (owner named by a service) | success | service | org | `{name, owner_id}` |
| `org.delete` (by a service) | success | service | org | `{keys_revoked}` |
| `member.role_change` | success | user / service | user | `{from, to}` |
| `member.remove` | success | user / service | user | `{role}` |
| `invitation.create` | success | user / service | invitation | `{email, role}` |
| `invitation.accept` | success | user (the invitee) | invitation | `{role, new_account, via}` |
| `key.create` | success | user | api_key | `{name, models, rate_limit_rpm}` |
| `key.revoke` | success | user | api_key | `{name}` |
| `authz.denied` | denied (the 403 message) | user | org | `{role, permission}` |

`authz.denied` is built by servicekit's `record_denial`, the shape every service shares. A
service's actor ID is the name it gave (`X-Gatewright-Service`, e.g. `gitops`: decisions 11, 13).
`invitation.accept`'s `via` says how the invitee proved who they are: `token` (the invitation's
token) or `account` (logged in as the invited email, `/v1/users/me/invitations`).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from gatewright.identity.service import store
from gatewright.identity.service.api.deps import Principal, ServiceCaller
from gatewright.servicekit import Database, ServiceError
from gatewright.servicekit.access import service_name
from gatewright.servicekit.audit import record_denial as record_authz_denial

outbox = store.outbox


def record(
    s: Session,
    principal: Principal,
    action: str,
    *,
    org_id: str | None,
    target_type: str,
    target_id: str,
    details: dict[str, Any] | None = None,
) -> str:
    """A successful state change by `principal`, in the caller's transaction."""
    return outbox.record(
        s,
        org_id=org_id,
        actor_type="user",
        actor_id=principal.user_id,
        action=action,
        outcome="success",
        reason="",
        target_type=target_type,
        target_id=target_id,
        details=details,
    )


def record_by(
    s: Session,
    caller: Principal | ServiceCaller,
    request: Request,
    action: str,
    *,
    org_id: str | None,
    target_type: str,
    target_id: str,
    details: dict[str, Any] | None = None,
) -> str:
    """A successful state change by a user or a service (routes open to both)."""
    if isinstance(caller, Principal):
        return record(
            s,
            caller,
            action,
            org_id=org_id,
            target_type=target_type,
            target_id=target_id,
            details=details,
        )
    return record_by_service(
        s,
        service_name(request),
        action,
        org_id=org_id,
        target_type=target_type,
        target_id=target_id,
        details=details,
    )


def record_by_service(
    s: Session,
    service: str,
    action: str,
    *,
    org_id: str | None,
    target_type: str,
    target_id: str,
    details: dict[str, Any] | None = None,
) -> str:
    """A successful state change by a service (the service token), in the caller's transaction;
    `service` is the name it gave (`X-Gatewright-Service`), a label, not a proof."""
    return outbox.record(
        s,
        org_id=org_id,
        actor_type="service",
        actor_id=service,
        action=action,
        outcome="success",
        reason="",
        target_type=target_type,
        target_id=target_id,
        details=details,
    )


def is_authz_denial(exc: ServiceError) -> bool:
    return exc.status_code == 403 and exc.code == "permission_denied"


def record_denial(db: Database, request: Request, exc: ServiceError) -> str | None:
    """`authz.denied` for a 403 on an identity route (servicekit's one shape), in a transaction
    of its own; the actor is the principal the route authenticated, if any."""
    principal = getattr(request.state, "principal", None)
    if isinstance(principal, Principal):
        return record_authz_denial(outbox, db, exc, actor_type="user", actor_id=principal.user_id)
    return record_authz_denial(outbox, db, exc, actor_type="anonymous", actor_id=None)
