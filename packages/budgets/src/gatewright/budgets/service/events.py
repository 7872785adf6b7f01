"""Budgets' audit events: the outbox table in budgets' own database and what records into it.

- `budget.set` (success): actor the user, or the service (its `X-Gatewright-Service` name);
  target the org or the api_key; details `{scope, limit_micro_usd, period}`.
- `budget.delete` (success): the same, with the removed budget's limit and period (a repeated
  delete changes nothing and records nothing).
- `org.purge` (success): actor the service; target the org; details `{removed}` (rows of its
  ledgers and reservations, after identity deleted the org; decision 16).
- `reservation.denied` (denied): actor the calling service (`gateway`); target the org or the
  api_key whose budget refused; reason the 402 message (limit, spent, reserved, requested);
  details `{scope, org_id, key_id, limit_micro_usd, spent_micro_usd, reserved_micro_usd,
  requested_micro_usd, period, reservation_request_id}`.
- `authz.denied` (denied): actor the user; target the org; reason identity's; details
  `{role, permission}` (servicekit's `record_denial`, the shape every service shares).

`reservation.denied` is THE one denied event of a completion that its budget refused: the gateway
records nothing for that request (its request ID is on this event). Denials are recorded after
the request's transaction rolled back (`record_now`), by the app's `ServiceError` handler.
Successful reservations, commits and releases are not audited: the gateway's
`completion.create` event carries the cost, and the ledger itself is queryable.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from gatewright.budgets.service import store
from gatewright.budgets.service.api.deps import Caller, actor
from gatewright.servicekit import Database, ServiceError
from gatewright.servicekit.audit import org_purged
from gatewright.servicekit.audit import record_denial as record_authz_denial

outbox = store.outbox


def record_budget_change(
    s: Session,
    request: Request,
    who: Caller,
    action: str,
    *,
    org_id: str,
    key_id: str | None,
    limit_micro_usd: int | None,
    period: str | None,
) -> str:
    actor_type, actor_id = actor(request, who)
    return outbox.record(
        s,
        org_id=org_id,
        actor_type=actor_type,
        actor_id=actor_id,
        action=action,
        outcome="success",
        reason="",
        target_type="org" if key_id is None else "api_key",
        target_id=org_id if key_id is None else key_id,
        details={
            "scope": "org" if key_id is None else "key",
            "limit_micro_usd": limit_micro_usd,
            "period": period,
        },
    )


def record_purge(s: Session, request: Request, who: Caller, *, org_id: str, removed: int) -> str:
    actor_type, actor_id = actor(request, who)
    fields = org_purged(org_id=org_id, actor_type=actor_type, actor_id=actor_id, removed=removed)
    return outbox.record(s, **fields)


def record_denial(db: Database, request: Request, exc: ServiceError) -> str | None:
    """`reservation.denied` for a 402, `authz.denied` for a 403; None for other errors."""
    d = exc.details
    org_id = d.get("org_id") if isinstance(d.get("org_id"), str) else None
    if exc.status_code == 402 and exc.code == "budget_exceeded":
        key_id = d.get("key_id") if d.get("scope") == "key" else None
        actor_type, actor_id = actor(request, getattr(request.state, "caller", None))
        details: dict[str, Any] = {
            k: d.get(k)
            for k in (
                "scope",
                "org_id",
                "key_id",
                "limit_micro_usd",
                "spent_micro_usd",
                "reserved_micro_usd",
                "requested_micro_usd",
                "period",
            )
        }
        details["reservation_request_id"] = getattr(request.state, "reservation_request_id", None)
        return outbox.record_now(
            db,
            org_id=org_id,
            actor_type=actor_type,
            actor_id=actor_id,
            action="reservation.denied",
            outcome="denied",
            reason=exc.message,
            target_type="api_key" if key_id else "org",
            target_id=key_id or org_id,
            details=details,
        )
    if exc.status_code == 403 and exc.code == "permission_denied":
        actor_type, actor_id = actor(request, getattr(request.state, "caller", None))
        return record_authz_denial(outbox, db, exc, actor_type=actor_type, actor_id=actor_id)
    return None
