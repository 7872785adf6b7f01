"""The route cache: route lookups with a short per-replica cache (`route_cache_seconds`).

A write through this replica evicts at once (`invalidate`); another replica's write is seen
within the cache's TTL.
"""

from __future__ import annotations

import time

from gatewright.gateway.models import Route
from gatewright.gateway.service import store
from gatewright.servicekit import Database


class RouteTable:
    """Route lookups with a short per-replica cache; writes through this replica evict."""

    def __init__(self, db: Database, ttl_seconds: float) -> None:
        self.db = db
        self.ttl = ttl_seconds
        self._cache: dict[tuple[str, str], tuple[float, Route | None]] = {}

    def _lookup(self, org_id: str | None, alias: str) -> Route | None:
        with self.db.session() as s:
            return store.get_route(s, org_id=org_id, alias=alias)

    async def get(self, org_id: str | None, alias: str) -> Route | None:
        key = (org_id or store.GLOBAL, alias)
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        route = await self.db.call(self._lookup, org_id, alias)
        if self.ttl > 0:
            self._cache[key] = (now + self.ttl, route)
        return route

    async def resolve(self, org_id: str, alias: str) -> Route | None:
        """The org's route for `alias`, else the global one."""
        return await self.get(org_id, alias) or await self.get(None, alias)

    def invalidate(self) -> None:
        self._cache.clear()
