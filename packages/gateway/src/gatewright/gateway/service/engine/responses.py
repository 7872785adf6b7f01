"""Responses that settle their bill once they are out: `SettlingJSONResponse`, `MeteredStream`.

Each runs its `on_close` (commit the cost, record the audit event) however the sending ended,
shielded from cancellation, and stops sending at the plan's deadline so a client that stops
reading cannot hold the commit back past the reservation's expiry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

log = logging.getLogger("gatewright.gateway")


class _SettlesWhenSent(Response):
    """Runs `on_close` (the bill) once the response is out, however the sending ended: done,
    the client gone, or an error; shielded, so a cancelled request still settles.

    The sending stops at `deadline` (time.monotonic()): a client that stops reading must not
    hold the commit back until its reservation lapses. `on_deadline` runs when it did."""

    on_close: Callable[[], Awaitable[None]]
    deadline: float
    on_deadline: Callable[[], None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            # asyncio's own timeout: about half the cost of an anyio cancel scope, per response.
            sending = asyncio.timeout(self.deadline - time.monotonic())
            try:
                async with sending:
                    await super().__call__(scope, receive, send)
            except TimeoutError:
                if not sending.expired():
                    raise
                log.warning("stopped sending an answer at its reservation's deadline")
                if self.on_deadline is not None:
                    self.on_deadline()
        finally:
            with anyio.CancelScope(shield=True):
                await self.on_close()


class SettlingJSONResponse(_SettlesWhenSent, JSONResponse):
    """A JSON answer that settles its bill once it is out.

    The commit is off the latency path (one budgets round trip fewer per completion); a crash
    in between leaks nothing: the reservation expires on its own. A client that hung up before
    the body was sent is billed all the same: the backend was paid for."""

    def __init__(
        self,
        content: Any,
        *,
        on_close: Callable[[], Awaitable[None]],
        headers: dict[str, str],
        deadline: float,
    ) -> None:
        super().__init__(content, headers=headers)
        self.on_close = on_close
        self.deadline = deadline


class MeteredStream(_SettlesWhenSent, StreamingResponse):
    """A stream that settles its bill when it ends: done, the client gone mid-stream (billed
    for what was streamed), or an error."""

    def __init__(
        self,
        content: AsyncIterator[bytes],
        *,
        on_close: Callable[[], Awaitable[None]],
        headers: dict[str, str],
        deadline: float,
        on_deadline: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(content, media_type="text/event-stream", headers=headers)
        self.on_close = on_close
        self.deadline = deadline
        self.on_deadline = on_deadline
        self.headers["Cache-Control"] = "no-cache"
