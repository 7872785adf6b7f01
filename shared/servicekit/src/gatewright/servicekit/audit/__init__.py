"""Audit emission for every service, in two rooms: recording and shipping.

- `outbox`: `AuditOutbox`, the `<service>_audit_outbox` table in the service's own database, and
  how a service records an event in it (`record` in the caller's transaction, `record_now` in a
  short one of its own).
- `delivery`: `AuditDeliverer`, the background thread that ships recorded events to the audit
  service in order, retried while audit is away, and `start_deliverer`, the lifespan helper.
- `denial`: `record_denial`, the one `authz.denied` event every service records for a refused
  permission.
- `purge`: `org_purged`, the one `org.purge` event of a service dropping a deleted org's data.

The names every service imports are re-exported here, so `from gatewright.servicekit.audit
import AuditOutbox` names the room it needs without knowing which module holds it.
"""

from gatewright.servicekit.audit.delivery import AuditDeliverer, start_deliverer
from gatewright.servicekit.audit.denial import record_denial
from gatewright.servicekit.audit.outbox import AuditOutbox, EventFields, EventRecorder, build_event
from gatewright.servicekit.audit.purge import org_purged

__all__ = [
    "AuditDeliverer",
    "AuditOutbox",
    "EventFields",
    "EventRecorder",
    "build_event",
    "org_purged",
    "record_denial",
    "start_deliverer",
]
