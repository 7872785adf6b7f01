"""`POST /v1/internal/revoked-keys`: identity tells this replica which keys to forget now."""

from __future__ import annotations

import logging

from fastapi import APIRouter

from gatewright.gateway.models import RevokedKeys
from gatewright.gateway.service.api.deps import GatewayDep, Service
from gatewright.servicekit import ERROR_RESPONSES

log = logging.getLogger("gatewright.gateway.revocations")
router = APIRouter(tags=["internal"], responses=ERROR_RESPONSES)


@router.post("/v1/internal/revoked-keys", operation_id="revoked_keys")
async def revoked_keys(body: RevokedKeys, _: Service, gateway: GatewayDep) -> dict[str, int]:
    dropped = gateway.keys.evict(body.key_ids)
    for key_id in body.key_ids:
        gateway.limiter.forget(key_id)
    log.info("keys revoked", extra={"keys": len(body.key_ids), "dropped": dropped})
    return {"evicted": dropped}
