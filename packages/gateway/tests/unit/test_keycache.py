"""The key cache: one identity call per secret per TTL, never past a key's own expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gatewright.gateway.service.keycache import KeyCache
from gatewright.identity import KeyVerification


def _verifier(expires_at: datetime | None) -> tuple[list[str], object]:
    calls: list[str] = []

    async def verify(secret: str) -> KeyVerification:
        calls.append(secret)
        return KeyVerification(key_id="key_1", org_id="org_1", expires_at=expires_at)

    return calls, verify


async def test_a_key_is_asked_once_per_ttl() -> None:
    cache = KeyCache(ttl_seconds=60)
    calls, verify = _verifier(datetime.now(UTC) + timedelta(hours=1))
    for _ in range(3):
        await cache.get("gwk_a", verify)  # type: ignore[arg-type]
    assert calls == ["gwk_a"]


async def test_a_key_past_its_expiry_is_asked_again_however_fresh_its_entry() -> None:
    # The entry is seconds old and the TTL a minute, but the key's own end has passed: identity
    # decides again (and refuses it) instead of the cache serving a dead key.
    cache = KeyCache(ttl_seconds=60)
    calls, verify = _verifier(datetime.now(UTC) - timedelta(milliseconds=1))
    await cache.get("gwk_b", verify)  # type: ignore[arg-type]
    await cache.get("gwk_b", verify)  # type: ignore[arg-type]
    assert calls == ["gwk_b", "gwk_b"]


async def test_a_key_without_expiry_is_cached() -> None:
    cache = KeyCache(ttl_seconds=60)
    calls, verify = _verifier(None)
    await cache.get("gwk_c", verify)  # type: ignore[arg-type]
    await cache.get("gwk_c", verify)  # type: ignore[arg-type]
    assert calls == ["gwk_c"]
