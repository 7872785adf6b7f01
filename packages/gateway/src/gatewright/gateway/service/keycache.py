"""A short in-memory cache of verified API keys, keyed by sha256 of the secret.

Identity is asked once per secret per `ttl` seconds; concurrent misses for the same secret share
one call. `evict(key_ids)` (the revocation hook) drops keys at once. Invalid keys are not cached:
identity's answer for them is the authority every time. A key that expires is never served from
the cache past its `expires_at` (wall clock, as identity decides it): its entry ends then, and a
hit on it asks identity again, which refuses it.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from gatewright.identity import KeyVerification


def _expired(key: KeyVerification) -> bool:
    return key.expires_at is not None and key.expires_at <= datetime.now(UTC)


@dataclass
class _Entry:
    key: KeyVerification
    expires: float


class KeyCache:
    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self._entries: dict[str, _Entry] = {}
        self._by_key_id: dict[str, set[str]] = {}
        self._inflight: dict[str, asyncio.Future[KeyVerification]] = {}
        self._generation = 0

    @staticmethod
    def digest(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    async def get(
        self, secret: str, verify: Callable[[str], Awaitable[KeyVerification]]
    ) -> KeyVerification:
        digest = self.digest(secret)
        entry = self._entries.get(digest)
        if entry is not None and entry.expires > time.monotonic() and not _expired(entry.key):
            return entry.key
        pending = self._inflight.get(digest)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[KeyVerification] = asyncio.get_running_loop().create_future()
        self._inflight[digest] = future
        generation = self._generation
        try:
            key = await verify(secret)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it; nobody else needs to
            raise
        finally:
            self._inflight.pop(digest, None)
        future.set_result(key)
        # An eviction that raced this verification wins: do not cache a maybe-revoked key.
        if self.ttl > 0 and generation == self._generation:
            self._entries[digest] = _Entry(key, time.monotonic() + self.ttl)
            self._by_key_id.setdefault(key.key_id, set()).add(digest)
        return key

    def evict(self, key_ids: list[str]) -> int:
        """Forget these keys; returns how many cache entries were dropped."""
        self._generation += 1
        dropped = 0
        for key_id in key_ids:
            for digest in self._by_key_id.pop(key_id, set()):
                dropped += self._entries.pop(digest, None) is not None
        return dropped

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()
        self._by_key_id.clear()
