"""Gitops's audit events: the outbox table in gitops's own database and what records into it.

Applications are platform-wide, so their events go to the platform chain (`org_id` None):

| action | outcome | actor | target | details |
|---|---|---|---|---|
| `application.create` | success | service / user (admin) | application | the spec |
| `application.update` | success | the same | application | the fields changed |
| `application.delete` | success | the same | application | `{}` |

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
) -> str:
    """An Application change by `who`, in the caller's transaction."""
    actor_type: ActorType = "service" if who.user_id is None else "user"
    actor_id = service_name(request) if who.user_id is None else who.user_id
    return outbox.record(
        s,
        org_id=None,
        actor_type=actor_type,
        actor_id=actor_id,
        action=action,
        outcome="success",
        reason="",
        target_type="application",
        target_id=name,
        details=_safe(details),
    )
