"""`/healthz` (the process answers) and `/readyz` (its storage answers too)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gatewright.core.envelope import ErrorEnvelope
from gatewright.servicekit.errors import error_response

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz")
def healthz(request: Request) -> dict[str, str]:
    return {"status": "ok", "service": request.app.title}


@router.get(
    "/readyz",
    operation_id="readyz",
    response_model=None,
    responses={503: {"model": ErrorEnvelope, "description": "Storage is not reachable."}},
)
def readyz(request: Request) -> JSONResponse | dict[str, str]:
    db = getattr(request.app.state, "db", None)
    if db is not None and not db.ping():
        return error_response(503, "not_ready", "Storage is not reachable.")
    return {"status": "ready", "service": request.app.title}
