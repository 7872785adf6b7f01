"""The route table admin API: org routes (user JWT + identity authz, or the service token) and
global routes (service token only). Writes are audited in their transaction (`route.put`,
`route.delete`; a global route's event has no org); a user refused by identity is audited as
`authz.denied`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request, Response
from sqlalchemy.orm import Session

from gatewright.gateway.models import ALIAS_PATTERN, Route, RouteList, RouteUpsert
from gatewright.gateway.service import store
from gatewright.gateway.service.api.deps import (
    DB,
    AsyncAuthorizerDep,
    Caller,
    GatewayDep,
    Service,
    ServiceOrUser,
    actor,
    authorize,
)
from gatewright.servicekit import DEPENDENCY_RESPONSES, ERROR_RESPONSES, ServiceError
from gatewright.servicekit.access import AsyncIdentityOrgDirectory, org_not_found
from gatewright.servicekit.deps import id_path

router = APIRouter(tags=["routes"], responses=ERROR_RESPONSES)

AliasPath = Path(pattern=ALIAS_PATTERN, description="1..100 characters of [A-Za-z0-9._:-]")
# An org ID goes to identity's authz check and into audit events: within identity's bound and
# printable (audit's rule), so a bad one is this route's 422, never a failure further on.
OrgPath = id_path()


def _not_found(alias: str, org_id: str | None) -> ServiceError:
    where = f"org {org_id}" if org_id else "the global table"
    return ServiceError(
        404, "route_not_found", f"No route '{alias}' in {where}.", details={"alias": alias}
    )


def _record(
    s: Session,
    request: Request,
    caller: Caller,
    action: str,
    org_id: str | None,
    alias: str,
    details: dict[str, Any],
) -> None:
    """`route.put` / `route.delete` in the write's transaction (global routes: org None)."""
    actor_type, actor_id = actor(request, caller)
    store.outbox.record(
        s,
        org_id=org_id,
        actor_type=actor_type,
        actor_id=actor_id,
        action=action,
        outcome="success",
        reason="",
        target_type="route",
        target_id=alias,
        details={"alias": alias, "scope": "org" if org_id else "global", **details},
    )


async def _put(
    db: DB,
    gateway: GatewayDep,
    org_id: str | None,
    alias: str,
    body: RouteUpsert,
    request: Request,
    caller: Caller,
) -> Route:
    def write() -> Route:
        with db.session() as s, s.begin():
            route = store.put_route(
                s,
                org_id=org_id,
                alias=alias,
                backends=body.backends,
                input_price=body.input_micro_usd_per_mtok,
                output_price=body.output_micro_usd_per_mtok,
                max_output_tokens=body.max_output_tokens,
            )
            details = {
                "backends": [{"url": b.url, "model": b.model} for b in route.backends],
                "input_micro_usd_per_mtok": route.input_micro_usd_per_mtok,
                "output_micro_usd_per_mtok": route.output_micro_usd_per_mtok,
                "max_output_tokens": route.max_output_tokens,
            }
            _record(s, request, caller, "route.put", org_id, alias, details)
            return route

    route = await db.call(write)
    gateway.routes.invalidate()
    return route


async def _get(db: DB, org_id: str | None, alias: str) -> Route:
    def read() -> Route | None:
        with db.session() as s:
            return store.get_route(s, org_id=org_id, alias=alias)

    route = await db.call(read)
    if route is None:
        raise _not_found(alias, org_id)
    return route


async def _delete(
    db: DB,
    gateway: GatewayDep,
    org_id: str | None,
    alias: str,
    request: Request,
    caller: Caller,
) -> Response:
    def remove() -> bool:
        with db.session() as s, s.begin():
            removed = store.delete_route(s, org_id=org_id, alias=alias)
            if removed:
                _record(s, request, caller, "route.delete", org_id, alias, {})
            return removed

    if not await db.call(remove):
        raise _not_found(alias, org_id)
    gateway.routes.invalidate()
    return Response(status_code=204)


@router.put(
    "/v1/orgs/{org_id}/routes/{alias}",
    operation_id="put_org_route",
    response_model=Route,
    responses=DEPENDENCY_RESPONSES,
)
async def put_org_route(
    body: RouteUpsert,
    caller: ServiceOrUser,
    authz: AsyncAuthorizerDep,
    db: DB,
    gateway: GatewayDep,
    request: Request,
    org_id: str = OrgPath,
    alias: str = AliasPath,
) -> Route:
    await authorize(gateway, authz, caller, org_id, "routes:manage")
    # The service token and platform admins pass for any org: a route is kept only for an org
    # identity knows, as budgets keeps budgets (org deletion purges both, decision 16).
    orgs: AsyncIdentityOrgDirectory = request.app.state.orgs
    if not await orgs.exists(org_id):
        raise org_not_found(org_id)
    return await _put(db, gateway, org_id, alias, body, request, caller)


@router.get(
    "/v1/orgs/{org_id}/routes/{alias}",
    operation_id="get_org_route",
    response_model=Route,
    responses=DEPENDENCY_RESPONSES,
)
async def get_org_route(
    caller: ServiceOrUser,
    authz: AsyncAuthorizerDep,
    db: DB,
    gateway: GatewayDep,
    org_id: str = OrgPath,
    alias: str = AliasPath,
) -> Route:
    await authorize(gateway, authz, caller, org_id, "org:read")
    return await _get(db, org_id, alias)


@router.delete(
    "/v1/orgs/{org_id}/routes/{alias}",
    operation_id="delete_org_route",
    status_code=204,
    responses=DEPENDENCY_RESPONSES,
)
async def delete_org_route(
    caller: ServiceOrUser,
    authz: AsyncAuthorizerDep,
    db: DB,
    gateway: GatewayDep,
    request: Request,
    org_id: str = OrgPath,
    alias: str = AliasPath,
) -> Response:
    await authorize(gateway, authz, caller, org_id, "routes:manage")
    return await _delete(db, gateway, org_id, alias, request, caller)


@router.get(
    "/v1/orgs/{org_id}/routes",
    operation_id="list_org_routes",
    response_model=RouteList,
    responses=DEPENDENCY_RESPONSES,
)
async def list_org_routes(
    caller: ServiceOrUser,
    authz: AsyncAuthorizerDep,
    db: DB,
    gateway: GatewayDep,
    org_id: str = OrgPath,
) -> RouteList:
    await authorize(gateway, authz, caller, org_id, "org:read")

    def read() -> list[Route]:
        with db.session() as s:
            return store.list_routes(s, org_id=org_id)

    return RouteList(data=await db.call(read))


@router.put("/v1/routes/{alias}", operation_id="put_global_route", response_model=Route)
async def put_global_route(
    body: RouteUpsert,
    caller: Service,
    db: DB,
    gateway: GatewayDep,
    request: Request,
    alias: str = AliasPath,
) -> Route:
    return await _put(db, gateway, None, alias, body, request, caller)


@router.get("/v1/routes/{alias}", operation_id="get_global_route", response_model=Route)
async def get_global_route(_: Service, db: DB, alias: str = AliasPath) -> Route:
    return await _get(db, None, alias)


@router.delete("/v1/routes/{alias}", operation_id="delete_global_route", status_code=204)
async def delete_global_route(
    caller: Service, db: DB, gateway: GatewayDep, request: Request, alias: str = AliasPath
) -> Response:
    return await _delete(db, gateway, None, alias, request, caller)
