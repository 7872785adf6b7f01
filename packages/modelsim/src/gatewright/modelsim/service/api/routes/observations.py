"""`GET /v1/observations` (filter by request ID and model) and `DELETE /v1/observations`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from gatewright.modelsim.models import Observation, ObservationList
from gatewright.modelsim.service.api.deps import ObservationsDep
from gatewright.servicekit import ERROR_RESPONSES

router = APIRouter(tags=["observations"], responses=ERROR_RESPONSES)


@router.get("/v1/observations", operation_id="list_observations", response_model=ObservationList)
async def list_observations(
    store: ObservationsDep,
    request_id: Annotated[str | None, Query(max_length=128)] = None,
    model: Annotated[str | None, Query(max_length=256)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ObservationList:
    """The most recent `limit` matching chat-completion requests, oldest first."""
    entries = store.query(request_id=request_id, model=model, limit=limit)
    return ObservationList(data=[Observation.model_validate(e) for e in entries])


@router.delete("/v1/observations", operation_id="clear_observations", status_code=204)
async def clear_observations(store: ObservationsDep) -> Response:
    """Forget every observation (for tests)."""
    store.clear()
    return Response(status_code=204)
