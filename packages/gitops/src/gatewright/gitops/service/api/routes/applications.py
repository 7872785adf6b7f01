"""Applications: create, read, list, change, delete, ask for a refresh, and preview a revision.

Every route needs the service token or a platform admin (`Manager`); a create, a change and a
delete are audited in their transaction (`events`). A create, a change and a
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
from gatewright.gitops.service.api.deps import DB, AppName, Manager, Now, SchedulerDep
from gatewright.servicekit import DEPENDENCY_RESPONSES, ERROR_RESPONSES

router = APIRouter(prefix="/v1/applications", tags=["applications"], responses=ERROR_RESPONSES)


@router.post("", operation_id="create_application", status_code=201, response_model=Application)
def create_application(
    body: ApplicationCreate,
    who: Manager,
    db: DB,
    now: Now,
    scheduler: SchedulerDep,
    request: Request,
) -> Application:
    with db.session() as s, s.begin():
        created = store.create_application(s, body=body, now=now)
        details = body.model_dump(include={"repo_url", "branch", "path", "sync_policy"})
        events.record_application_change(
            s, request, who, "application.create", name=body.name, details=details
        )
    if scheduler is not None:
        scheduler.trigger(created.name, "create")
    return created


@router.get("", operation_id="list_applications", response_model=ApplicationList)
def list_applications(who: Manager, db: DB) -> ApplicationList:
    with db.session() as s:
        return ApplicationList(data=store.list_applications(s))


@router.get("/{name}", operation_id="get_application", response_model=Application)
def get_application(name: AppName, who: Manager, db: DB) -> Application:
    with db.session() as s:
        return store.get_application(s, name=name)


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
    with db.session() as s, s.begin():
        updated = store.update_application(s, name=name, body=body, now=now)
        changed = body.model_dump(exclude_unset=True)
        events.record_application_change(
            s, request, who, "application.update", name=name, details=changed
        )
    if scheduler is not None:
        scheduler.trigger(name, "update")
    return updated


@router.delete("/{name}", operation_id="delete_application", status_code=204)
def delete_application(
    name: AppName, who: Manager, db: DB, scheduler: SchedulerDep, request: Request
) -> Response:
    """Forget the Application and its inventory; what it applied stays (prune comes later)."""
    with db.session() as s, s.begin():
        store.delete_application(s, name=name)
        events.record_application_change(
            s, request, who, "application.delete", name=name, details={}
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
    with db.session() as s, s.begin():
        token = store.request_refresh(s, name=name)
    if scheduler is not None:
        scheduler.trigger(name, "refresh")
    return RefreshAccepted(application=name, token=token)


@router.post(
    "/{name}/preview",
    operation_id="preview_application",
    response_model=Preview,
    responses=DEPENDENCY_RESPONSES,  # 503 repository_unavailable: git cannot be read
)
def preview_application(
    name: AppName, body: PreviewRequest, who: Manager, request: Request
) -> Preview:
    """Diff a commit SHA or a branch against live state, applying nothing. Invalid manifests are
    a 200 listing the problems; an unknown revision is 404 `revision_not_found`."""
    run: Callable[[str, str], Preview] = request.app.state.preview
    return run(name, body.revision)
