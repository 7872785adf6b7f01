"""Gitops's audit events: the outbox table in gitops's own database and what records into it.

An Application's events go to its org's chain (`org_id`), a platform-wide one's (and every
webhook's) to the platform chain (`org_id` None):

| action | outcome | actor | target | details |
|---|---|---|---|---|
| `application.create` | success | service / user | application | the spec |
| `application.update` | success | the same | application | the fields changed |
| `application.delete` | success | the same | application | `{}` |
| `gitops.webhook_rejected` | denied | anonymous | webhook (host) | host, event, reason, delivery |
| `authz.denied` | denied | user | org | role, permission (servicekit's `record_denial`) |

A webhook rejection never carries the secret, the signature or the token, only why it failed.

A URL's credentials (`user:secret@`) never reach an event (`mask_url`). The changes a reconcile
makes are audited by their owners (identity's `org.create`, budgets' `budget.set`, the gateway's
`route.put`, actor `service` / `gitops`), each with the reconcile's request ID.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from gatewright.audit import ActorType
from gatewright.gitops.service import store
from gatewright.gitops.service.api.deps import ManagerCaller
from gatewright.gitops.service.gitrepo import mask_url
from gatewright.servicekit import Database
from gatewright.servicekit.access import service_name

outbox = store.outbox


def _safe(details: dict[str, Any]) -> dict[str, Any]:
    return {k: mask_url(v) if isinstance(v, str) else v for k, v in details.items()}


def record_application_change(
    s: Session,
    request: Request,
    who: ManagerCaller,
    action: str,
    *,
    name: str,
    details: dict[str, Any],
    org_id: str | None = None,
) -> str:
    """An Application change by `who`, in the caller's transaction."""
    actor_type: ActorType = "service" if who.user_id is None else "user"
    actor_id = service_name(request) if who.user_id is None else who.user_id
    return outbox.record(
        s,
        org_id=org_id,
        actor_type=actor_type,
        actor_id=actor_id,
        action=action,
        outcome="success",
        reason="",
        target_type="application",
        target_id=name,
        details=_safe(details),
    )


def record_webhook_rejected(
    db: Database, *, host: str, event: str, code: str, message: str, delivery: str | None
) -> str:
    """A delivery that failed authentication, in a transaction of its own (nothing else is)."""
    return outbox.record_now(
        db,
        org_id=None,
        actor_type="anonymous",
        actor_id=None,
        action="gitops.webhook_rejected",
        outcome="denied",
        reason=message,
        target_type="webhook",
        target_id=host,
        details={"host": host, "event": event, "reason": code, "delivery": delivery},
    )
