"""Stream metering: relay one backend's SSE stream to the client and count what it cost.

`Meter` rewrites each chunk (the model alias; usage only when the client asked for it), keeps
the backend's reported usage, else the text streamed so far, so a stream that ends early (the
client gone, the backend broken, the deadline reached) is billed for what was streamed and never
more than was reserved (decision 10). A stream is cut with an error event once its next read
could end past the plan's deadline, when its reservation may have lapsed.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from gatewright.gateway.service import pricing
from gatewright.gateway.service.engine.plan import Plan
from gatewright.gateway.service.upstream import AttemptFailed, UpstreamStream, Usage, parse_usage
from gatewright.servicekit.correlation import current_request_id

log = logging.getLogger("gatewright.gateway")


def _sse(data: Any) -> bytes:
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


class Meter:
    """Relays one upstream stream and remembers what it cost so far.

    The relay stops at `cut_at` (time.monotonic()): a read started later could end past the
    plan's deadline, when the reservation may have lapsed."""

    def __init__(
        self, plan: Plan, upstream: UpstreamStream, include_usage: bool, cut_at: float
    ) -> None:
        self.plan = plan
        self.upstream = upstream
        self.include_usage = include_usage
        self.cut_at = cut_at
        self.texts: list[str] = []
        self.usage: Usage | None = None
        self.broken = False
        self.cut = False
        self._events: AsyncIterator[bytes] | None = None

    def events(self) -> AsyncIterator[bytes]:
        self._events = self._relay()
        return self._events

    async def _relay(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.upstream.chunks():
                if chunk.get("usage") is not None:
                    self.usage = parse_usage(chunk["usage"]) or self.usage
                choices = chunk.get("choices") or []
                for choice in choices:
                    delta = choice.get("delta") if isinstance(choice, dict) else None
                    content = delta.get("content") if isinstance(delta, dict) else None
                    if isinstance(content, str):
                        self.texts.append(content)
                if not self.include_usage:
                    if not choices and "usage" in chunk:
                        continue
                    chunk.pop("usage", None)
                chunk["model"] = self.plan.alias
                yield _sse(chunk)
                if self.usage is None and time.monotonic() >= self.cut_at:
                    self.stopped_at_deadline()
                    log.warning(
                        "stream cut: it would outlive its budget reservation",
                        extra={"reservation_id": self.plan.reservation_id},
                    )
                    yield _sse(self._deadline_error())
                    return
        except (AttemptFailed, httpx.HTTPError) as exc:
            self.broken = True
            log.warning("backend stream broke mid-way: %r", exc)
            yield _sse(
                {
                    "error": {
                        "type": "api_error",
                        "code": "backend_stream_failed",
                        "message": "The backend stream broke after it started; you are billed "
                        "only for what was streamed.",
                        "request_id": current_request_id(),
                    }
                }
            )
            return
        yield b"data: [DONE]\n\n"

    def stopped_at_deadline(self) -> None:
        self.cut = True

    @staticmethod
    def _deadline_error() -> dict[str, Any]:
        return {
            "error": {
                "type": "api_error",
                "code": "completion_deadline",
                "message": "The completion was cut: it would have outlived its budget "
                "reservation (GATEWRIGHT_RESERVATION_TTL_SECONDS); you are billed only for what "
                "was streamed.",
                "request_id": current_request_id(),
            }
        }

    def usage_so_far(self) -> Usage:
        """The backend's usage, else the bounds of what was sent and streamed (decision 10):
        never less than a backend bills for it, never more than was reserved."""
        if self.usage is not None:
            return self.usage
        streamed = pricing.streamed_token_bound(self.texts, self.plan.completion_tokens)
        return Usage(self.plan.prompt_tokens, streamed)

    def actual(self) -> int:
        return self.plan.cost(self.usage_so_far())

    async def close(self) -> None:
        if self._events is not None:
            aclose = getattr(self._events, "aclose", None)
            if aclose is not None:
                try:
                    await aclose()
                except Exception:
                    log.debug("relay close failed", exc_info=True)
        await self.upstream.aclose()
