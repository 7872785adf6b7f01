"""`POST /v1/hooks/git`: a push on GitHub or GitLab, in the host's own format, becomes refreshes.

Order (each step in `service/webhooks.py`): no secret configured → 503
`webhooks_not_configured`; neither host's event header → 400 `unknown_webhook`; not genuine →
401 `invalid_signature` and one `gitops.webhook_rejected` audit event, nothing else; GitHub's
`ping` → 200 `pong`; a push → one refresh (`store.request_refresh`, then the scheduler, as the
refresh route does) for each Application following that repository and branch → 202 with their
names and tokens (wait on `status.last_handled_refresh`). A tag push, another event or a push no
Application follows → 202 `ignored` with the reason, nothing changed. A body that is not JSON,
too large or sent as another type never gets here (servicekit's request-body check, 4xx).

The route is async so that it reads the raw body (what GitHub signed) and wakes the scheduler
on the event loop; database work runs in the threadpool.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from gatewright.gitops._hooks import (
    GITHUB_DELIVERY_HEADER,
    GITHUB_EVENT_HEADER,
    GITHUB_SIGNATURE_HEADER,
    GITLAB_EVENT_HEADER,
    GITLAB_TOKEN_HEADER,
)
from gatewright.gitops.models import HookResult, RefreshAccepted
from gatewright.gitops.service import events, store, webhooks
from gatewright.gitops.service.api.deps import DB, SchedulerDep, SettingsDep
from gatewright.servicekit import (
    DEPENDENCY_RESPONSES,
    ERROR_RESPONSES,
    Database,
    ServiceError,
)
from gatewright.servicekit.requestbody import json_body

log = logging.getLogger("gatewright.gitops.hooks")
# 503: webhooks are off until a secret is configured.
router = APIRouter(
    prefix="/v1/hooks", tags=["hooks"], responses={**ERROR_RESPONSES, **DEPENDENCY_RESPONSES}
)


def _header(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": description,
    }


# The route reads its own body (GitHub signs the raw bytes), so FastAPI cannot see it: documented
# here, with the headers that say which host sent it and prove it genuine, for clients and
# schema-driven fuzzers.
OPENAPI = {
    "parameters": [
        _header(GITHUB_EVENT_HEADER, "GitHub's event (`push`, `ping`, ...)."),
        _header(GITHUB_SIGNATURE_HEADER, "`sha256=` and the HMAC-SHA256 of the raw body."),
        _header(GITHUB_DELIVERY_HEADER, "GitHub's delivery ID (recorded when refused)."),
        _header(GITLAB_EVENT_HEADER, "GitLab's event (`Push Hook`, `Tag Push Hook`, ...)."),
        _header(GITLAB_TOKEN_HEADER, "GitLab's secret token."),
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "The host's own payload: a GitHub `push` (`ref`, `after`, "
                    "`repository`) or a GitLab `Push Hook` (`ref`, `checkout_sha`, `project`).",
                }
            }
        },
    },
}


def _refresh(db: Database, push: webhooks.Push) -> list[RefreshAccepted]:
    with db.session() as s, s.begin():
        sources = [webhooks.Source(*row) for row in store.list_sources(s)]
        return [
            RefreshAccepted(application=name, token=store.request_refresh(s, name=name))
            for name in webhooks.matches(push, sources)
        ]


@router.post(
    "/git",
    operation_id="git_webhook",
    status_code=202,
    response_model=HookResult,
    responses={200: {"description": "GitHub's ping, answered (nothing refreshed)."}},
    openapi_extra=OPENAPI,
)
async def git_webhook(
    request: Request, response: Response, db: DB, settings: SettingsDep, scheduler: SchedulerDep
) -> HookResult:
    """A GitHub `push` (`X-Hub-Signature-256`) or GitLab `Push Hook` (`X-Gitlab-Token`)."""
    if settings.webhook_secret is None:
        raise ServiceError(
            503,
            "webhooks_not_configured",
            "Webhooks are off: this gitops service has no secret to check deliveries with. "
            "Set GATEWRIGHT_WEBHOOK_SECRET (the secret configured on the GitHub or GitLab hook).",
        )
    host, event = webhooks.identify(request.headers)
    body = await request.body()
    rejected = webhooks.authenticate(
        host, request.headers, body, settings.webhook_secret.get_secret_value()
    )
    if rejected is not None:
        delivery = request.headers.get(GITHUB_DELIVERY_HEADER)
        await run_in_threadpool(
            events.record_webhook_rejected,
            db,
            host=host,
            event=event,
            code=rejected.code,
            message=rejected.message,
            delivery=None if delivery is None else webhooks.printable(delivery),
        )
        log.warning("refused a %s webhook (%s): %s", host, event, rejected.code)
        raise ServiceError(401, "invalid_signature", rejected.message, details={"host": host})
    what = webhooks.read(host, event, await json_body(request))
    if isinstance(what, webhooks.Ping):
        response.status_code = 200
        return HookResult(host=host, event=event, action="pong", reason="GitHub's ping: pong")
    if isinstance(what, webhooks.Ignored):
        return HookResult(host=host, event=event, action="ignored", reason=what.reason)
    refreshed = await run_in_threadpool(_refresh, db, what)
    if scheduler is not None:
        for accepted in refreshed:
            scheduler.trigger(accepted.application, "webhook")
    where = f"branch {what.branch!r}"
    if refreshed:
        names = ", ".join(a.application for a in refreshed)
        action, reason = "refreshed", f"a push to {where}: refreshing {names}"
    else:
        action, reason = "ignored", f"a push to {where}: no Application follows it"
    return HookResult(
        host=host,
        event=event,
        action=action,
        reason=reason,
        ref=what.ref,
        revision=what.revision,
        refreshed=refreshed,
    )
