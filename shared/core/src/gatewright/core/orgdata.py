"""The per-org data resource every service that keeps state per org offers (decision 16):
`GET /v1/orgs` lists the orgs it holds data for, `DELETE /v1/orgs/{org_id}` purges one once
identity has deleted it. Both take the service token. Budgets' and the gateway's clients mount it
as `client.orgs`; a sweep or the deleting caller uses it to cascade an org deletion.
"""

from __future__ import annotations

from gatewright.core.models import OrgDataList, OrgPurged
from gatewright.core.resources import AsyncResource, Call, SyncResource, path_segment


class _OrgDataRequests:
    @staticmethod
    def list() -> Call[OrgDataList]:
        return Call("GET", "/v1/orgs", OrgDataList)

    @staticmethod
    def purge(org_id: str) -> Call[OrgPurged]:
        return Call("DELETE", f"/v1/orgs/{path_segment(org_id)}", OrgPurged)


class OrgDataResource(SyncResource):
    def list(self) -> OrgDataList:
        """The orgs this service keeps data for, with how many rows each (service token)."""
        return self._send(_OrgDataRequests.list())

    def purge(self, org_id: str) -> OrgPurged:
        """Remove everything kept for an org identity has deleted (409 `org_exists` before)."""
        return self._send(_OrgDataRequests.purge(org_id))


class AsyncOrgDataResource(AsyncResource):
    async def list(self) -> OrgDataList:
        """The orgs this service keeps data for, with how many rows each (service token)."""
        return await self._send(_OrgDataRequests.list())

    async def purge(self, org_id: str) -> OrgPurged:
        """Remove everything kept for an org identity has deleted (409 `org_exists` before)."""
        return await self._send(_OrgDataRequests.purge(org_id))
