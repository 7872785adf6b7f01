"""What budgets keeps per org, and its purge once the org is deleted (decision 16).

`GET /v1/orgs` lists the orgs budgets holds ledgers or reservations for; `DELETE /v1/orgs/{id}`
removes all of them, the org's and its keys', and is refused (409 `org_exists`) while identity
still knows the org, so it can only follow the deletion. Both take the service token only.
A purge is audited (`org.purge`) in its transaction; purging an org with nothing left is a
success that removed 0 rows, so a caller may retry it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from gatewright.budgets.service import events, store
from gatewright.budgets.service.api.deps import DB, OrgDirectoryDep, OrgId, Service
from gatewright.core import OrgData, OrgDataList, OrgPurged
from gatewright.servicekit import DEPENDENCY_RESPONSES, ERROR_RESPONSES
from gatewright.servicekit.access import require_org_gone

router = APIRouter(
    prefix="/v1/orgs", tags=["orgs"], responses={**ERROR_RESPONSES, **DEPENDENCY_RESPONSES}
)


@router.get("", operation_id="list_org_data", response_model=OrgDataList)
def list_org_data(_: Service, db: DB) -> OrgDataList:
    with db.session() as s:
        counts = store.orgs_with_data(s)
    return OrgDataList(data=[OrgData(org_id=o, items=n) for o, n in sorted(counts.items())])


@router.delete("/{org_id}", operation_id="purge_org", response_model=OrgPurged)
def purge_org(
    org_id: OrgId, who: Service, orgs: OrgDirectoryDep, db: DB, request: Request
) -> OrgPurged:
    require_org_gone(orgs, org_id)
    with db.session() as s, s.begin():
        removed = store.purge_org(s, org_id=org_id)
        events.record_purge(s, request, who, org_id=org_id, removed=removed)
    return OrgPurged(org_id=org_id, removed=removed)
