"""What the gateway keeps per org (its routes), and their purge once the org is deleted
(decision 16).

`GET /v1/orgs` lists the orgs the gateway holds routes for; `DELETE /v1/orgs/{id}` removes all
of them and is refused (409 `org_exists`) while identity still knows the org, so it can only
follow the deletion. Both take the service token only. A purge is audited (`org.purge`) in its
transaction; purging an org with nothing left removes 0 routes, so a caller may retry it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from gatewright.core import OrgData, OrgDataList, OrgPurged
from gatewright.gateway.service import store
from gatewright.gateway.service.api.deps import DB, GatewayDep, Service, actor
from gatewright.gateway.service.api.routes.route_table import OrgPath
from gatewright.servicekit import DEPENDENCY_RESPONSES, ERROR_RESPONSES
from gatewright.servicekit.access import AsyncIdentityOrgDirectory, org_still_exists
from gatewright.servicekit.audit import org_purged

router = APIRouter(tags=["orgs"], responses={**ERROR_RESPONSES, **DEPENDENCY_RESPONSES})


@router.get("/v1/orgs", operation_id="list_org_data", response_model=OrgDataList)
async def list_org_data(_: Service, db: DB) -> OrgDataList:
    def read() -> dict[str, int]:
        with db.session() as s:
            return store.orgs_with_routes(s)

    counts = await db.call(read)
    return OrgDataList(data=[OrgData(org_id=o, items=n) for o, n in sorted(counts.items())])


@router.delete("/v1/orgs/{org_id}", operation_id="purge_org", response_model=OrgPurged)
async def purge_org(
    who: Service, db: DB, gateway: GatewayDep, request: Request, org_id: str = OrgPath
) -> OrgPurged:
    orgs: AsyncIdentityOrgDirectory = request.app.state.orgs
    if await orgs.exists(org_id):
        raise org_still_exists(org_id)
    actor_type, actor_id = actor(request, who)

    def remove() -> int:
        with db.session() as s, s.begin():
            removed = store.purge_org(s, org_id=org_id)
            store.outbox.record(
                s,
                **org_purged(
                    org_id=org_id, actor_type=actor_type, actor_id=actor_id, removed=removed
                ),
            )
            return removed

    removed = await db.call(remove)
    gateway.routes.invalidate()
    return OrgPurged(org_id=org_id, removed=removed)
