"""Applications: create, read, list, change, delete, ask for a refresh, and preview a revision.

Every route needs the service token, a platform admin, or a user holding `gitops:manage` in the
Application's org (`Manager`, `Access.require`); a list shows a user only the Applications of
orgs where they hold it. A create, a change and a delete are audited in their transaction, on the
Application's org's chain (`events`). A create, a change and a
refresh wake the scheduler at once; the reconcile itself runs in the background, so these answer
before it finishes: wait on the refresh token (`status.last_handled_refresh`), never on time.
A preview runs in the request (a worker thread) and changes nothing: no write to live state, the
Application's status or its inventory.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request, Response

from gatewright.gitops.models import (
    Application,
    ApplicationCreate,
    ApplicationList,
    ApplicationUpdate,
    Preview,
    PreviewRequest,
    RefreshAccepted,
)
from gatewright.gitops.service import events, store
from gatewright.gitops.service.api.deps import (
    DB,
    AppName,
    Manager,
    Now,
    OrgNamesDep,
    SchedulerDep,
)
from gatewright.servicekit import (
    DEPENDENCY_RESPONSES,
    ERROR_RESPONSES,
    Database,
    ServiceError,
)

# 503: identity cannot say who is calling or what they may do.
router = APIRouter(
    prefix="/v1/applications",
    tags=["applications"],
    responses={**ERROR_RESPONSES, **DEPENDENCY_RESPONSES},
)


@router.post("", operation_id="create_application", status_code=201, response_model=Application)
def create_application(
    body: ApplicationCreate,
    who: Manager,
    db: DB,
    now: Now,
    scheduler: SchedulerDep,
    request: Request,
    orgs: OrgNamesDep,
) -> Application:
    who.require(body.org_id)
    org_name = None
    if body.org_id is not None:
        org_name = orgs.name_of(body.org_id)
        if org_name is None:
            raise ServiceError(
                422,
                "org_not_found",
                f"No org {body.org_id}: identity does not know it.",
                details={"field": "org_id", "org_id": body.org_id},
            )
    with db.session() as s, s.begin():
        created = store.create_application(s, body=body, now=now, org_name=org_name)
        details = body.model_dump(include={"org_id", "repo_url", "branch", "path", "sync_policy"})
        events.record_application_change(
            s,
            request,
            who.who,
            "application.create",
            name=body.name,
            details=details,
            org_id=body.org_id,
        )
    if scheduler is not None:
        scheduler.trigger(created.name, "create")
    return created


@router.get("", operation_id="list_applications", response_model=ApplicationList)
def list_applications(who: Manager, db: DB) -> ApplicationList:
    with db.session() as s:
        apps = store.list_applications(s)
    return ApplicationList(data=[a for a in apps if who.may(a.org_id)])


def _load(db: Database, name: str) -> Application:
    with db.session() as s:
        return store.get_application(s, name=name)


@router.get("/{name}", operation_id="get_application", response_model=Application)
def get_application(name: AppName, who: Manager, db: DB) -> Application:
    app = _load(db, name)
    who.require(app.org_id)
    return app


@router.patch("/{name}", operation_id="update_application", response_model=Application)
def update_application(
    name: AppName,
    body: ApplicationUpdate,
    who: Manager,
    db: DB,
    now: Now,
    scheduler: SchedulerDep,
    request: Request,
) -> Application:
    who.require(_load(db, name).org_id)
    with db.session() as s, s.begin():
        updated = store.update_application(s, name=name, body=body, now=now)
        changed = body.model_dump(exclude_unset=True)
        events.record_application_change(
            s,
            request,
            who.who,
            "application.update",
            name=name,
            details=changed,
            org_id=updated.org_id,
        )
    if scheduler is not None:
        scheduler.trigger(name, "update")
    return updated


@router.delete("/{name}", operation_id="delete_application", status_code=204)
def delete_application(
    name: AppName, who: Manager, db: DB, scheduler: SchedulerDep, request: Request
) -> Response:
    """Forget the Application, its inventory and its claims; what it applied stays (prune removes
    only what left Git while the Application exists)."""
    org_id = _load(db, name).org_id
    who.require(org_id)
    with db.session() as s, s.begin():
        store.delete_application(s, name=name)
        events.record_application_change(
            s, request, who.who, "application.delete", name=name, details={}, org_id=org_id
        )
    if scheduler is not None:
        scheduler.forget(name)
    return Response(status_code=204)


@router.post(
    "/{name}/refresh",
    operation_id="refresh_application",
    status_code=202,
    response_model=RefreshAccepted,
)
def refresh_application(
    name: AppName, who: Manager, db: DB, scheduler: SchedulerDep
) -> RefreshAccepted:
    """A token that `status.last_handled_refresh` reaches once a reconcile has handled it."""
    who.require(_load(db, name).org_id)
    with db.session() as s, s.begin():
        token = store.request_refresh(s, name=name)
    if scheduler is not None:
        scheduler.trigger(name, "refresh")
    return RefreshAccepted(application=name, token=token)


@router.post(
    "/{name}/diff",
    operation_id="diff_application",
    response_model=Preview,
    responses=DEPENDENCY_RESPONSES,  # 503 repository_unavailable: git cannot be read
)
def diff_application(
    name: AppName, body: PreviewRequest, who: Manager, db: DB, request: Request
) -> Preview:
    """Diff a commit SHA or a branch against live state, applying nothing. Invalid manifests are
    a 200 listing the problems; an unknown revision is 404 `revision_not_found`."""
    who.require(_load(db, name).org_id)
    run: Callable[[str, str], Preview] = request.app.state.preview
    return run(name, body.revision)
