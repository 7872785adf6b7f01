"""Per-key request rate limit: an in-memory sliding 60-second window per replica."""

from __future__ import annotations

import math
import time
from collections import deque

WINDOW_SECONDS = 60.0


class RateLimiter:
    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self.now = time.monotonic

    def acquire(self, key_id: str, rpm: int) -> int | None:
        """Count one request; None if allowed, else the seconds to wait (at least 1)."""
        now = self.now()
        hits = self._hits.setdefault(key_id, deque())
        while hits and hits[0] <= now - WINDOW_SECONDS:
            hits.popleft()
        if len(hits) >= rpm:
            return max(1, math.ceil(hits[0] + WINDOW_SECONDS - now))
        hits.append(now)
        return None

    def forget(self, key_id: str) -> None:
        self._hits.pop(key_id, None)
