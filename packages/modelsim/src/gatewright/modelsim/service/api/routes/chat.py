"""`POST /v1/chat/completions`: the deterministic completion, plain or streamed (SSE).

Failures and delays happen before the first byte, for streamed requests too. Every request that
reaches this route is recorded as an observation (`ObservedRoute`), valid or not.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse

from gatewright.core import ErrorEnvelope
from gatewright.modelsim.models import ChatCompletion, ChatCompletionRequest
from gatewright.modelsim.service import engine
from gatewright.modelsim.service.api.deps import SettingsDep
from gatewright.modelsim.service.observations import ObservedRoute
from gatewright.servicekit import ERROR_RESPONSES, ServiceError

router = APIRouter(tags=["chat"], responses=ERROR_RESPONSES, route_class=ObservedRoute)

RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": ChatCompletion,
        "description": "The completion; with `stream: true` a `text/event-stream` of chunks.",
        "content": {"text/event-stream": {}},
    },
    503: {
        "model": ErrorEnvelope,
        "description": "`sim-fail-503`: simulated backend outage (`backend_unavailable`).",
    },
}


@router.post(
    "/v1/chat/completions",
    operation_id="create_chat_completion",
    response_model=None,
    responses=RESPONSES,
)
async def create_chat_completion(body: ChatCompletionRequest, settings: SettingsDep) -> Response:
    behaviour = engine.resolve(body.model, timeout_seconds=settings.sim_timeout_seconds)
    if behaviour.delay_seconds:
        await asyncio.sleep(behaviour.delay_seconds)  # the simulated latency itself
    if behaviour.kind == "fail":
        raise ServiceError(
            behaviour.status, behaviour.code, behaviour.message, details={"model": body.model}
        )
    if behaviour.kind == "bad_json":
        if body.stream:
            return Response(engine.BAD_JSON_STREAM, media_type="text/event-stream")
        return Response(engine.BAD_JSON_BODY, media_type="application/json")
    completion = engine.complete(
        body, echo=behaviour.kind == "echo", tokens=behaviour.tokens, cap=behaviour.cap
    )
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        return StreamingResponse(
            engine.sse_events(completion, include_usage=include_usage),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    return Response(engine.completion_body(completion), media_type="application/json")
