"""The audit client: every resource method on both `Client` and `AsyncClient` (respx), the
models' validation, and the pure chain functions (`canonical_bytes`, `event_hash`)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pydantic
import pytest
import respx

import gatewright.audit as audit
from gatewright.audit import Actor, AsyncClient, Client, EventIn, Target
from gatewright.core import RetryPolicy, errors
from gatewright.core.testing import (
    ClientCase,
    Runner,
    check_case,
    modules_loaded_by,
    public_methods,
    runner,
)

BASE = "http://audit.test"
NO_RETRY = RetryPolicy(max_retries=0)
T0 = "2026-01-02T00:00:00Z"

EVENT_IN = EventIn(
    id="evt_1",
    time=datetime(2026, 1, 2, tzinfo=UTC),
    service="identity",
    org_id="org_1",
    actor=Actor(type="user", id="usr_1"),
    action="key.create",
    target=Target(type="api_key", id="key_1"),
    outcome="success",
    reason="Created key.",
    request_id="req_1",
    details={"models": ["sim-echo"]},
)
SENT = {
    "id": "evt_1",
    "time": T0,
    "service": "identity",
    "org_id": "org_1",
    "actor": {"type": "user", "id": "usr_1"},
    "action": "key.create",
    "target": {"type": "api_key", "id": "key_1"},
    "outcome": "success",
    "reason": "Created key.",
    "request_id": "req_1",
    "details": {"models": ["sim-echo"]},
}
EVENT = {
    **SENT,
    "seq": 1,
    "received_at": T0,
    "prev_hash": "0" * 64,
    "hash": "a" * 64,
}
VERIFICATION = {"org_id": "org_1", "ok": True, "count": 3, "first_broken_seq": None, "reason": None}


AnyClient = Client | AsyncClient


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Runner:
    """Each case runs through the sync and the async client."""
    return runner(request.param, Client, AsyncClient, BASE, token="tok", retry=NO_RETRY)


CASES = [
    ClientCase(
        "events.ingest",
        lambda c: c.events.ingest(EVENT_IN),
        "POST",
        "/v1/events",
        SENT,
        201,
        EVENT,
        lambda r: (
            isinstance(r, audit.Event)
            and r.seq == 1
            and r.request_id == "req_1"
            and r.response_request_id == "req_server"
            and r.time == datetime(2026, 1, 2, tzinfo=UTC)
        ),
    ),
    ClientCase(
        "events.ingest(replay 200)",
        lambda c: c.events.ingest(EVENT_IN),
        "POST",
        "/v1/events",
        SENT,
        200,
        EVENT,
        lambda r: r.hash == "a" * 64,
    ),
    ClientCase(
        "events.ingest_batch",
        lambda c: c.events.ingest_batch([EVENT_IN, EVENT_IN]),
        "POST",
        "/v1/events/batch",
        {"events": [SENT, SENT]},
        200,
        {"data": [EVENT, EVENT]},
        lambda r: isinstance(r, audit.EventList) and len(r.data) == 2,
    ),
    ClientCase(
        "events.list",
        lambda c: c.events.list("org_1"),
        "GET",
        "/v1/orgs/org_1/events",
        None,
        200,
        {"data": [EVENT], "next_cursor": "MQ"},
        lambda r: isinstance(r, audit.EventPage) and r.next_cursor == "MQ",
        query={},
    ),
    ClientCase(
        "events.list(filters)",
        lambda c: c.events.list(
            "org_1",
            request_id="req_1",
            action="key.create",
            actor="usr_1",
            outcome="denied",
            since=datetime(2026, 1, 1, tzinfo=UTC),
            until="2026-01-03T00:00:00Z",
            limit=10,
            cursor="MQ",
        ),
        "GET",
        "/v1/orgs/org_1/events",
        None,
        200,
        {"data": [], "next_cursor": None},
        lambda r: r.data == [] and r.next_cursor is None,
        query={
            "request_id": "req_1",
            "action": "key.create",
            "actor": "usr_1",
            "outcome": "denied",
            "since": "2026-01-01T00:00:00+00:00",
            "until": "2026-01-03T00:00:00Z",
            "limit": "10",
            "cursor": "MQ",
        },
    ),
    ClientCase(
        "events.by_request_id",
        lambda c: c.events.by_request_id("req_1", limit=5),
        "GET",
        "/v1/events",
        None,
        200,
        {"data": [EVENT]},
        lambda r: isinstance(r, audit.EventList) and r.data[0].id == "evt_1",
        query={"request_id": "req_1", "limit": "5"},
    ),
    ClientCase(
        "events.by_request_id (several)",
        lambda c: c.events.by_request_id(["req_1", "req_2"]),
        "GET",
        "/v1/events",
        None,
        200,
        {"data": [EVENT]},
        lambda r: isinstance(r, audit.EventList) and r.data[0].id == "evt_1",
        query={"request_id": ["req_1", "req_2"]},
    ),
    ClientCase(
        "events.verify",
        lambda c: c.events.verify("org_1"),
        "GET",
        "/v1/orgs/org_1/events/verify",
        None,
        200,
        VERIFICATION,
        lambda r: isinstance(r, audit.ChainVerification) and r.ok and r.count == 3,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@respx.mock
async def test_resource_call(run: Runner, case: ClientCase) -> None:
    await check_case(run, case, base_url=BASE, token="tok")


def _pages(request: httpx.Request) -> httpx.Response:
    cursor = request.url.params.get("cursor")
    seqs = {None: [1, 2], "Mg": [3, 4], "NA": [5]}[cursor]
    nxt = {None: "Mg", "Mg": "NA", "NA": None}[cursor]
    assert request.url.params["action"] == "key.create"
    data = [{**EVENT, "seq": s, "id": f"evt_{s}"} for s in seqs]
    return httpx.Response(200, json={"data": data, "next_cursor": nxt})


def test_iterate_follows_cursors_sync() -> None:
    with respx.mock:
        route = respx.get(f"{BASE}/v1/orgs/org_1/events").mock(side_effect=_pages)
        with Client(BASE, retry=NO_RETRY) as c:
            seqs = [e.seq for e in c.events.iterate("org_1", action="key.create", limit=2)]
        assert seqs == [1, 2, 3, 4, 5]
        assert route.call_count == 3


async def test_iterate_follows_cursors_async() -> None:
    with respx.mock:
        route = respx.get(f"{BASE}/v1/orgs/org_1/events").mock(side_effect=_pages)
        async with AsyncClient(BASE, retry=NO_RETRY) as c:
            seqs = [e.seq async for e in c.events.iterate("org_1", action="key.create")]
        assert seqs == [1, 2, 3, 4, 5]
        assert route.call_count == 3


def test_ids_are_one_path_segment() -> None:
    with respx.mock:
        route = respx.get(f"{BASE}/v1/orgs/..%2Fx/events/verify").mock(
            return_value=httpx.Response(200, json=VERIFICATION)
        )
        with Client(BASE) as c:
            c.events.verify("../x")
        assert route.called


@respx.mock
async def test_ingest_is_retried_with_the_same_body(run: Runner) -> None:
    """Ingest is idempotent on the event id, so a 503 then 201 stores one event."""
    route = respx.post(f"{BASE}/v1/events").mock(
        side_effect=[httpx.Response(503), httpx.Response(201, json=EVENT)]
    )

    def call(c: AnyClient) -> Any:
        return c.with_options(retry=RetryPolicy(max_retries=2, initial_delay=0)).events.ingest(
            EVENT_IN
        )

    result = await run(call)
    assert result.id == "evt_1"
    first, second = (json.loads(x.request.content) for x in route.calls)
    assert first == second == SENT


ERRORS = [
    (401, "unauthenticated", errors.AuthenticationError),
    (403, "permission_denied", errors.PermissionDenied),
    (409, "conflict", errors.Conflict),
    (413, "payload_too_large", errors.APIStatusError),
    (422, "validation_failed", errors.ValidationFailed),
    (400, "invalid_cursor", errors.BadRequest),
]


@pytest.mark.parametrize(("status", "code", "cls"), ERRORS, ids=[e[1] for e in ERRORS])
@respx.mock
async def test_errors_map_to_core_exceptions(
    run: Runner, status: int, code: str, cls: type[errors.APIStatusError]
) -> None:
    body = {
        "error": {
            "type": "x",
            "code": code,
            "message": "Role 'member' in org org_1 lacks permission 'audit:read'.",
            "request_id": "req_abc",
            "details": {"org_id": "org_1"},
        }
    }
    respx.get(f"{BASE}/v1/orgs/org_1/events").mock(return_value=httpx.Response(status, json=body))
    with pytest.raises(cls) as info:
        await run(lambda c: c.events.list("org_1"))
    assert info.value.status_code == status
    assert info.value.code == code
    assert info.value.request_id == "req_abc"


# -- models ----------------------------------------------------------------------------------
def test_models_ignore_fields_a_newer_provider_adds() -> None:
    e = audit.Event.model_validate({**EVENT, "new_field": 1, "actor": {"type": "robot", "x": 1}})
    assert e.id == "evt_1"
    assert e.actor.type == "robot"


def test_event_in_normalizes_time_to_utc() -> None:
    e = EventIn.model_validate({**SENT, "time": "2026-01-02T01:00:00+01:00"})
    assert e.time == datetime(2026, 1, 2, tzinfo=UTC)
    assert e.time.tzinfo == UTC


@pytest.mark.parametrize(
    "change",
    [
        {"id": "evt_"},
        {"id": "key_1"},
        {"time": datetime(2026, 1, 2)},
        {"time": 1700000000},
        {"action": "Key.Create"},
        {"org_id": "_platform"},
        {"service": ""},
        {"details": {"x": "y" * 17_000}},
        {"details": {"x": float("nan")}},
        {"details": {"x": object()}},
        {"unknown": 1},
    ],
    ids=lambda c: f"{next(iter(c))}",
)
def test_event_in_refuses_bad_events(change: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        EventIn.model_validate({**SENT, **change})


def nested(levels: int) -> dict[str, Any]:
    """`details` nested `levels` deep (the outer object is level 1, as the limit counts)."""
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def test_details_may_nest_exactly_to_the_limit() -> None:
    assert EventIn.model_validate({**SENT, "details": nested(audit.MAX_DETAILS_DEPTH)}).details
    mixed: Any = {}
    for _ in range(audit.MAX_DETAILS_DEPTH - 1):
        mixed = [mixed]  # arrays count as levels too
    with pytest.raises(pydantic.ValidationError):
        EventIn.model_validate({**SENT, "details": {"a": [mixed]}})


@pytest.mark.parametrize("levels", [audit.MAX_DETAILS_DEPTH + 1, 300, 100_000])
def test_details_nested_deeper_than_the_limit_are_refused_naming_it(levels: int) -> None:
    # 300 is past what the response serializer can write; 100 000 past Python's recursion limit:
    # both must be a validation error, never a RecursionError or a stored event.
    with pytest.raises(pydantic.ValidationError) as refused:
        EventIn.model_validate({**SENT, "details": nested(levels)})
    assert f"the limit is {audit.MAX_DETAILS_DEPTH} levels" in str(refused.value)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"reason": "lone \ud800 surrogate"}, "unicode"),
        ({"actor": {"type": "user", "id": "usr_\udc00"}}, "unicode"),
        ({"details": {"note": "lone \ud800"}}, "lone surrogate"),
        ({"details": {"k\udfff": 1}}, "lone surrogate"),
        ({"details": {"list": [["\ud800"]]}}, "lone surrogate"),
        ({"reason": "NUL\x00inside"}, "NUL"),
        ({"details": {"note": "NUL\x00"}}, "NUL"),
        ({"details": {"NUL\x00": 1}}, "NUL"),
        ({"details": {"nested": {1: "int key"}}}, "not a string"),
    ],
    ids=[
        "reason-surrogate",
        "actor-surrogate",
        "details-value-surrogate",
        "details-key-surrogate",
        "details-deep-surrogate",
        "reason-nul",
        "details-value-nul",
        "details-key-nul",
        "details-int-key",
    ],
)
def test_text_that_cannot_be_stored_is_refused(change: dict[str, Any], problem: str) -> None:
    with pytest.raises(pydantic.ValidationError) as refused:
        EventIn.model_validate({**SENT, **change})
    assert problem.lower() in str(refused.value).lower()


def test_new_event_id() -> None:
    ids = {audit.new_event_id() for _ in range(100)}
    assert len(ids) == 100
    for i in ids:
        EventIn.model_validate({**SENT, "id": i})


# -- the chain functions ---------------------------------------------------------------------
def test_canonical_bytes_and_hash() -> None:
    event = audit.Event.model_validate(
        {
            **EVENT,
            "time": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=2))),
            "details": {"z": [1, {"b": None, "a": "ü"}], "a": 1.5},
            "target": None,
        }
    )
    expected = (
        '{"action":"key.create","actor":{"id":"usr_1","type":"user"},'
        '"details":{"a":1.5,"z":[1,{"a":"ü","b":null}]},"id":"evt_1","org_id":"org_1",'
        '"outcome":"success","prev_hash":"' + "0" * 64 + '","reason":"Created key.",'
        '"request_id":"req_1","seq":1,"service":"identity","target":null,'
        '"time":"2026-01-02T01:04:05.000006Z"}'
    ).encode("utf-8")
    assert audit.canonical_bytes(event) == expected
    assert audit.event_hash(event) == hashlib.sha256(expected).hexdigest()
    # received_at and hash are not part of the content
    other = event.model_copy(update={"received_at": datetime(2030, 1, 1, tzinfo=UTC), "hash": "b"})
    assert audit.event_hash(other) == audit.event_hash(event)
    for field, value in [("seq", 2), ("prev_hash", "1" * 64), ("reason", "x"), ("org_id", None)]:
        assert audit.event_hash(event.model_copy(update={field: value})) != audit.event_hash(event)


def test_public_api_is_pinned() -> None:
    assert sorted(audit.__all__) == sorted(
        [
            "ACTOR_TYPES",
            "CONSUMER",
            "GENESIS_HASH",
            "MAX_BATCH",
            "MAX_DETAILS_BYTES",
            "MAX_DETAILS_DEPTH",
            "OUTCOMES",
            "PLATFORM_CHAIN",
            "PROVIDER",
            "STATE_EVENT_STORED",
            "STATE_SERVICE_TOKEN",
            "STATE_USER_CAN_READ_AUDIT",
            "Actor",
            "ActorType",
            "AsyncClient",
            "AsyncEvents",
            "ChainVerification",
            "Client",
            "Event",
            "EventIn",
            "EventList",
            "EventPage",
            "Events",
            "Outcome",
            "Target",
            "canonical_bytes",
            "event_hash",
            "new_event_id",
        ]
    )
    for name in audit.__all__:
        assert hasattr(audit, name), name


def test_sync_and_async_resources_have_the_same_methods() -> None:
    sync, async_ = Client(BASE), AsyncClient(BASE)
    s_methods = public_methods(sync.events)
    a_methods = public_methods(async_.events)
    assert s_methods == a_methods
    sync.close()


def test_client_never_imports_the_service() -> None:
    assert (
        modules_loaded_by(
            "gatewright.audit",
            (
                "fastapi",
                "gatewright.servicekit",
                "gatewright.audit.service",
                "gatewright.identity",
                "sqlalchemy",
            ),
        )
        == []
    )
