"""`record_denial`: the one `authz.denied` audit event, for every service that refuses a permission.

Each denial is recorded once, by the service that made the decision (decision 4), and every
service records it in the same shape, so that one query (`action=authz.denied`) reads them all
alike:

    action "authz.denied" · outcome "denied" · reason: the 403's message (who may not do what)
    · org_id and target {type "org", id}: the org named in the 403's details (none when the
      denial names no org, such as identity's "a user may only check their own permissions")
    · actor: who was refused, as the service knows them (a user; anonymous if unknown)
    · details {role, permission} from the 403's details, plus `subject` when the denial names one

The 403 is servicekit's `access.authorize` denial or any `ServiceError(403, "permission_denied",
details={role, permission, org_id})` of the same shape. The event is written with `record_now`,
in a transaction of its own (the request's was rolled back), through an `EventRecorder`: the
service's `AuditOutbox`, or, in the audit service, its own log.

Recording is best effort: a denial is answered even when its event cannot be written, and that
failure is logged with the denial's message (a 403 never turns into a 500).
"""

from __future__ import annotations

import logging
from typing import Any

from gatewright.audit import ActorType
from gatewright.servicekit.audit.outbox import EventFields, EventRecorder
from gatewright.servicekit.db import Database
from gatewright.servicekit.errors import ServiceError

log = logging.getLogger("gatewright.servicekit.audit.denial")

ACTION = "authz.denied"


def denial_fields(
    denial: ServiceError, *, actor_type: ActorType, actor_id: str | None
) -> EventFields:
    """The `authz.denied` event of `denial` (a 403), as `record_now`'s keyword arguments."""
    found = denial.details
    org_id = found.get("org_id")
    org = org_id if isinstance(org_id, str) and org_id else None
    details: dict[str, Any] = {"role": found.get("role"), "permission": found.get("permission")}
    if "subject" in found:
        details["subject"] = found["subject"]
    return EventFields(
        org_id=org,
        actor_type=actor_type,
        actor_id=actor_id,
        action=ACTION,
        outcome="denied",
        reason=denial.message,
        target_type=None if org is None else "org",
        target_id=org,
        details=details,
    )


def record_denial(
    recorder: EventRecorder,
    db: Database,
    denial: ServiceError,
    *,
    actor_type: ActorType,
    actor_id: str | None,
) -> str | None:
    """Record `denial` as its `authz.denied` event; the event id, or None if it could not be."""
    try:
        return recorder.record_now(
            db, **denial_fields(denial, actor_type=actor_type, actor_id=actor_id)
        )
    except Exception:
        log.exception("cannot record the authz.denied audit event of: %s", denial.message)
        return None
