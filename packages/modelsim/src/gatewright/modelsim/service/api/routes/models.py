"""`GET /v1/models`: one example model of each fixed behaviour (OpenAI list shape)."""

from __future__ import annotations

from fastapi import APIRouter

from gatewright.modelsim.models import Model, ModelList
from gatewright.modelsim.service import engine
from gatewright.servicekit import ERROR_RESPONSES

router = APIRouter(tags=["models"], responses=ERROR_RESPONSES)


@router.get("/v1/models", operation_id="list_models", response_model=ModelList)
async def list_models() -> ModelList:
    return ModelList(
        data=[Model(id=name, owned_by=engine.OWNER, created=0) for name in engine.LISTED_MODELS]
    )
