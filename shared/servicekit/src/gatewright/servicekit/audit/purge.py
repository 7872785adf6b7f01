"""`org_purged`: the one `org.purge` event a service records when it drops what it kept for an
org identity has deleted (decision 16), so every service says it in the same words."""

from __future__ import annotations

from gatewright.audit import ActorType
from gatewright.servicekit.audit.outbox import EventFields


def org_purged(
    *, org_id: str, actor_type: ActorType, actor_id: str | None, removed: int
) -> EventFields:
    """The fields of `org.purge` (pass to `AuditOutbox.record` in the purge's transaction):
    `details.removed` counts what this service dropped."""
    return EventFields(
        org_id=org_id,
        actor_type=actor_type,
        actor_id=actor_id,
        action="org.purge",
        outcome="success",
        reason="",
        target_type="org",
        target_id=org_id,
        details={"removed": removed},
    )
