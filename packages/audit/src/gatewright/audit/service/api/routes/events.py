"""Events: ingest (service-only, idempotent on the event id), query, cross-chain lookup, verify.

Ingest answers 201 with the stored event, or 200 with the already-stored one when the same id
comes again with identical content (409 `conflict` when the content differs). A batch is one
transaction: one bad or conflicting event stores none of them. The platform chain (events with
`org_id = None`) is addressed as `PLATFORM_CHAIN` and readable with the service token only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Unpack

from fastapi import APIRouter, Query, Response
from pydantic import StringConstraints
from sqlalchemy.exc import IntegrityError

from gatewright.audit.models import (
    ACTION_PATTERN,
    DEFAULT_PAGE_LIMIT,
    MAX_PAGE_LIMIT,
    MAX_REQUEST_ID_LENGTH,
    MAX_REQUEST_IDS,
    PLATFORM_CHAIN,
    ChainVerification,
    Event,
    EventBatchIn,
    EventIn,
    EventList,
    EventPage,
    Outcome,
)
from gatewright.audit.service import store
from gatewright.audit.service.api.deps import (
    DB,
    AuthorizerDep,
    Caller,
    CallerDep,
    Now,
    OrgId,
    Service,
    ServiceCaller,
    SettingsDep,
)
from gatewright.audit.service.api.deps import authorize as check
from gatewright.core import UTCDateTime
from gatewright.servicekit import DEPENDENCY_RESPONSES, ERROR_RESPONSES, Database, ServiceError
from gatewright.servicekit.access import UserCaller
from gatewright.servicekit.audit import EventFields, build_event, record_denial

log = logging.getLogger("gatewright.audit.events")

router = APIRouter(tags=["events"], responses=ERROR_RESPONSES)

PERMISSION = "audit:read"
_ATTEMPTS = 3
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_LIMIT)]


def _append(db: Database, bodies: Sequence[EventIn], now: datetime) -> list[tuple[Event, bool]]:
    """Append in one transaction; an insert racing a twin id into another chain is retried
    (the retry finds the twin and answers as a replay or a conflict)."""
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with db.session() as s, s.begin():
                return store.append(s, bodies=bodies, now=now)
        except IntegrityError:
            if attempt == _ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _log(results: list[tuple[Event, bool]]) -> None:
    for event, created in results:
        if created:
            log.info(
                "event appended",
                extra={
                    "event_id": event.id,
                    "chain": store.chain_of(event.org_id),
                    "seq": event.seq,
                },
            )


class _OwnLog:
    """Where audit's own events go: straight into its chains. It is the audit service, so it
    has no outbox to ship from; `record_now` is the `EventRecorder` servicekit's helpers take."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def record_now(self, db: Database, **fields: Unpack[EventFields]) -> str:
        event = build_event("audit", fields, time=self.now)
        _log(_append(db, [event], self.now))
        return event.id


def _authorize_chain(
    who: Caller, authz: AuthorizerDep, org_id: str, *, db: Database, now: datetime
) -> str:
    """The chain key for `org_id` once `who` may read it (403 otherwise).

    A refused read is itself an event: audit appends servicekit's one `authz.denied` event to
    the org's chain, through its own log rather than an outbox."""
    if org_id == PLATFORM_CHAIN:
        if not isinstance(who, ServiceCaller):
            raise ServiceError(
                403,
                "permission_denied",
                "The platform chain (events with no org) is readable with the service token only.",
                details={"org_id": org_id, "permission": PERMISSION},
            )
        return PLATFORM_CHAIN

    def record(user: UserCaller, denial: ServiceError) -> None:
        record_denial(_OwnLog(now), db, denial, actor_type="user", actor_id=user.user_id)

    check(who, authz, org_id=org_id, permission=PERMISSION, on_denied=record)
    return org_id


@router.post(
    "/v1/events",
    operation_id="ingest_event",
    status_code=201,
    response_model=Event,
    responses={200: {"model": Event, "description": "The same event again: stored unchanged."}},
)
def ingest_event(body: EventIn, _: Service, db: DB, now: Now, response: Response) -> Event:
    results = _append(db, [body], now)
    _log(results)
    event, created = results[0]
    if not created:
        response.status_code = 200
    return event


@router.post(
    "/v1/events/batch",
    operation_id="ingest_events",
    response_model=EventList,
)
def ingest_events(body: EventBatchIn, _: Service, db: DB, now: Now) -> EventList:
    results = _append(db, body.events, now)
    _log(results)
    return EventList(data=[event for event, _created in results])


@router.get(
    "/v1/orgs/{org_id}/events",
    operation_id="list_events",
    response_model=EventPage,
    responses=DEPENDENCY_RESPONSES,
)
def list_events(
    org_id: OrgId,
    who: CallerDep,
    authz: AuthorizerDep,
    db: DB,
    now: Now,
    request_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    action: Annotated[str | None, Query(pattern=ACTION_PATTERN)] = None,
    actor: Annotated[str | None, Query(min_length=1, max_length=200, pattern=_PRINTABLE)] = None,
    outcome: Outcome | None = None,
    since: UTCDateTime | None = None,
    until: UTCDateTime | None = None,
    limit: Limit = DEFAULT_PAGE_LIMIT,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> EventPage:
    if since is not None and until is not None and since > until:
        raise ServiceError(
            422,
            "validation_failed",
            f"Invalid request: since ({since.isoformat()}) is after until "
            f"({until.isoformat()}), so no event could match.",
            details={"errors": [{"loc": ["query", "since"], "msg": "after until"}]},
        )
    after_seq = 0 if cursor is None else store.decode_cursor(cursor)
    chain = _authorize_chain(who, authz, org_id, db=db, now=now)
    filters = store.Filters(
        request_id=request_id,
        action=action,
        actor=actor,
        outcome=outcome,
        since=since,
        until=until,
    )
    with db.session() as s:
        data, next_cursor = store.list_events(
            s, chain=chain, filters=filters, after_seq=after_seq, limit=limit
        )
    return EventPage(data=data, next_cursor=next_cursor)


@router.get(
    "/v1/events",
    operation_id="events_by_request_id",
    response_model=EventList,
)
def events_by_request_id(
    request_id: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=MAX_REQUEST_ID_LENGTH)]],
        Query(
            min_length=1,
            max_length=MAX_REQUEST_IDS,
            description=f"One request ID, or up to {MAX_REQUEST_IDS} (the parameter repeated).",
        ),
    ],
    _: Service,
    db: DB,
    limit: Limit = DEFAULT_PAGE_LIMIT,
) -> EventList:
    """The events of every chain carrying any of these request IDs, oldest first."""
    wanted = list(dict.fromkeys(request_id))
    with db.session() as s:
        return EventList(data=store.by_request_ids(s, request_ids=wanted, limit=limit))


@router.get(
    "/v1/orgs/{org_id}/events/verify",
    operation_id="verify_chain",
    response_model=ChainVerification,
    responses=DEPENDENCY_RESPONSES,
)
def verify_chain(
    org_id: OrgId,
    who: CallerDep,
    authz: AuthorizerDep,
    db: DB,
    settings: SettingsDep,
    now: Now,
) -> ChainVerification:
    chain = _authorize_chain(who, authz, org_id, db=db, now=now)
    with db.session() as s:
        result = store.verify(s, chain=chain, batch=settings.verify_batch)
    if not result.ok:
        log.warning("audit chain broken", extra={"chain": chain, "reason": result.reason})
    return result
