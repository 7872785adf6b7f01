"""`POST /v1/chat/completions` (OpenAI-compatible, plain or SSE) and `GET /v1/models`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from gatewright.core import ErrorEnvelope
from gatewright.gateway.models import ChatCompletion, ChatCompletionRequest, ModelList
from gatewright.gateway.service.api.deps import ApiKey, CompletionKey, GatewayDep
from gatewright.servicekit import DEPENDENCY_RESPONSES, ERROR_RESPONSES, ServiceError
from gatewright.servicekit.openapi import openapi_body
from gatewright.servicekit.requestbody import json_body

router = APIRouter(tags=["completions"], responses={**ERROR_RESPONSES, **DEPENDENCY_RESPONSES})


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorEnvelope, "description": description}


COMPLETION_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": ChatCompletion,
        "description": "The completion; with `stream: true` a `text/event-stream` of chunks.",
        "content": {"text/event-stream": {}},
    },
    402: _error("The org's or key's budget would be exceeded (budget_exceeded)."),
    429: _error("The key's rate limit is reached (rate_limited, Retry-After)."),
    502: _error(
        "Every backend failed (backends_failed, details.attempts), or one "
        "refused the request (backend_rejected; 400 when it refused its content)."
    ),
    503: _error("Identity or budgets unreachable."),
    504: _error("Every backend timed out (backends_timeout)."),
}


def _invalid(exc: ValidationError) -> ServiceError:
    errors = [
        {"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid"}
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return ServiceError(
        400,
        "invalid_request",
        f"Invalid request: {where}: {first['msg']}",
        details={"errors": errors},
    )


@router.post(
    "/v1/chat/completions",
    operation_id="create_chat_completion",
    response_model=ChatCompletion,
    responses=COMPLETION_RESPONSES,
    # The route parses the raw body itself (fields it does not read pass through untouched);
    # the schema is the model it validates with.
    openapi_extra=openapi_body(ChatCompletionRequest),
)
async def create_chat_completion(
    request: Request, key: CompletionKey, gateway: GatewayDep
) -> Response:
    # Parsed (and checked for hostile encodings, depth and content type) by servicekit's
    # request-body middleware, once.
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ServiceError(400, "invalid_request", "The request body must be a JSON object.")
    try:
        plan = await gateway.plan(key, body)
    except ValidationError as exc:
        raise _invalid(exc) from exc
    if body.get("stream") is True:
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        return await gateway.run_stream(plan, include_usage)
    return await gateway.run(plan)


@router.get("/v1/models", operation_id="list_models", response_model=ModelList)
async def list_models(key: ApiKey, gateway: GatewayDep) -> ModelList:
    routes = await gateway.visible_models(key)
    data = [
        {
            "id": r.alias,
            "object": "model",
            "created": int(r.updated_at.timestamp()),
            "owned_by": r.org_id or "gatewright",
        }
        for r in routes
    ]
    return ModelList.model_validate({"object": "list", "data": data})
