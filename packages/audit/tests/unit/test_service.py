"""The audit service in process: the hash chain, idempotency, queries, auth, tampering, bad input.

Identity is mocked with respx on its URL (see `audit_fixtures`); the clock is injected.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from audit_fixtures import (
    ORG,
    SERVICE,
    T0,
    Clock,
    FakeIdentity,
    World,
    auth,
    event,
    ingest,
    ingested,
    make_settings,
    snapshot,
)
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gatewright.audit import (
    GENESIS_HASH,
    MAX_DETAILS_BYTES,
    MAX_DETAILS_DEPTH,
    PLATFORM_CHAIN,
    Event,
    canonical_bytes,
    event_hash,
)
from gatewright.audit.models import MAX_REQUEST_IDS
from gatewright.audit.service import create_app, store

pytestmark = pytest.mark.audit


def events_of(client: TestClient, org_id: str = ORG, **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"/v1/orgs/{org_id}/events", params=params, headers=SERVICE)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def verify(client: TestClient, org_id: str = ORG) -> dict[str, Any]:
    response = client.get(f"/v1/orgs/{org_id}/events/verify", headers=SERVICE)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- the chain -------------------------------------------------------------------------------
def test_ingest_builds_a_hash_chain(client: TestClient, clock: Clock) -> None:
    first = ingested(client)
    clock.advance(seconds=1)
    second = ingested(client, details={"é": [1, 2.5, None, True], "b": {"z": 1, "a": 2}})
    assert (first["seq"], second["seq"]) == (1, 2)
    assert first["prev_hash"] == GENESIS_HASH
    assert second["prev_hash"] == first["hash"]
    for stored in (first, second):
        assert stored["hash"] == event_hash(Event.model_validate(stored))
    assert first["received_at"] == "2026-03-14T12:00:00Z"
    assert second["received_at"] == "2026-03-14T12:00:01Z"
    assert [e["id"] for e in events_of(client)] == [first["id"], second["id"]]
    assert verify(client) == {
        "org_id": ORG,
        "ok": True,
        "count": 2,
        "first_broken_seq": None,
        "reason": None,
    }


def test_canonical_encoding_is_the_documented_one(client: TestClient) -> None:
    stored = ingested(
        client,
        time="2026-03-14T13:00:00.5+01:00",
        details={"b": "ü", "a": 1},
        target=None,
    )
    expected = (
        '{"action":"key.create","actor":{"id":"usr_owner","type":"user"},'
        '"details":{"a":1,"b":"ü"},'
        f'"id":"{stored["id"]}","org_id":"{ORG}","outcome":"success",'
        f'"prev_hash":"{GENESIS_HASH}","reason":"Created API key for CI.",'
        f'"request_id":"{stored["request_id"]}","seq":1,"service":"identity","target":null,'
        '"time":"2026-03-14T12:00:00.500000Z"}'
    ).encode()
    assert canonical_bytes(Event.model_validate(stored)) == expected


def test_chains_are_per_org_and_platform(client: TestClient) -> None:
    a1 = ingested(client)
    b1 = ingested(client, org_id="org_other")
    p1 = ingested(client, org_id=None, actor={"type": "anonymous", "id": None})
    a2 = ingested(client)
    p2 = ingested(client, org_id=None, actor={"type": "anonymous"}, action="auth.login")
    assert [e["seq"] for e in (a1, b1, p1, a2, p2)] == [1, 1, 1, 2, 2]
    assert a2["prev_hash"] == a1["hash"]
    assert p2["prev_hash"] == p1["hash"]
    assert [e["id"] for e in events_of(client, PLATFORM_CHAIN)] == [p1["id"], p2["id"]]
    assert verify(client, PLATFORM_CHAIN)["org_id"] is None
    assert verify(client, PLATFORM_CHAIN)["ok"] is True
    assert verify(client, "org_other")["count"] == 1
    assert verify(client, "org_empty") == {
        "org_id": "org_empty",
        "ok": True,
        "count": 0,
        "first_broken_seq": None,
        "reason": None,
    }


# -- idempotency -----------------------------------------------------------------------------
def test_same_id_same_content_is_200_and_unchanged(
    client: TestClient, app: FastAPI, clock: Clock
) -> None:
    body = event()
    first = ingest(client, body)
    assert first.status_code == 201
    before = snapshot(app)
    clock.advance(minutes=5)
    # the same instant written differently is the same content
    again = ingest(client, body | {"time": body["time"].replace("+00:00", "Z")})
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert snapshot(app) == before


@pytest.mark.parametrize(
    "change",
    [
        {"reason": "Something else."},
        {"details": {"n": -1}},
        {"org_id": "org_other"},
        {"org_id": None},
        {"time": "2030-01-01T00:00:00Z"},
        {"actor": {"type": "service", "id": "gateway"}},
        {"target": None},
        {"outcome": "error"},
        {"request_id": "req_other"},
    ],
    ids=lambda c: next(iter(c)),
)
def test_same_id_different_content_is_409(
    client: TestClient, app: FastAPI, change: dict[str, Any]
) -> None:
    body = event()
    assert ingest(client, body).status_code == 201
    before = snapshot(app)
    response = ingest(client, body | change)
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "conflict"
    assert body["id"] in error["message"]
    assert snapshot(app) == before


def test_batch_is_ordered_idempotent_and_atomic(client: TestClient, app: FastAPI) -> None:
    done = ingested(client)
    bodies = [event(), event(org_id=None, actor={"type": "anonymous"}), event()]
    response = client.post(
        "/v1/events/batch", json={"events": [*bodies, event(id=done["id"]) | {}]}, headers=SERVICE
    )
    # the last one reuses a stored id with other content: nothing of the batch is stored
    assert response.status_code == 409, response.text
    assert len(events_of(client)) == 1
    before = snapshot(app)
    replay = {k: v for k, v in done.items() if k not in ("seq", "received_at", "prev_hash", "hash")}
    response = client.post("/v1/events/batch", json={"events": [*bodies, replay]}, headers=SERVICE)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [e["id"] for e in data] == [b["id"] for b in bodies] + [done["id"]]
    assert [e["seq"] for e in data] == [2, 1, 3, 1]
    assert data[3] == done
    assert snapshot(app) != before
    again = client.post("/v1/events/batch", json={"events": [*bodies, replay]}, headers=SERVICE)
    assert again.json()["data"] == data
    assert verify(client)["count"] == 3


def test_batch_repeating_an_id_inside_itself(client: TestClient) -> None:
    body = event()
    same = client.post("/v1/events/batch", json={"events": [body, body]}, headers=SERVICE)
    assert same.status_code == 200, same.text
    assert [e["seq"] for e in same.json()["data"]] == [1, 1]
    other = event()
    differ = client.post(
        "/v1/events/batch", json={"events": [other, other | {"reason": "x"}]}, headers=SERVICE
    )
    assert differ.status_code == 409
    assert len(events_of(client)) == 1


# -- queries ---------------------------------------------------------------------------------
@pytest.fixture
def many(client: TestClient) -> list[dict[str, Any]]:
    out = []
    for i in range(12):
        out.append(
            ingested(
                client,
                action="key.create" if i % 3 else "authz.denied",
                outcome="success" if i % 3 else "denied",
                actor={"type": "user", "id": f"usr_{i % 2}"},
                request_id=f"req_q{i % 4}",
                time=(T0 + timedelta(minutes=i)).isoformat(),
            )
        )
    return out


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, list(range(12))),
        ({"action": "authz.denied"}, [0, 3, 6, 9]),
        ({"outcome": "denied"}, [0, 3, 6, 9]),
        ({"actor": "usr_1"}, [1, 3, 5, 7, 9, 11]),
        ({"request_id": "req_q2"}, [2, 6, 10]),
        ({"since": "2026-03-14T12:05:00Z"}, [5, 6, 7, 8, 9, 10, 11]),
        ({"until": "2026-03-14T13:02:00+01:00"}, [0, 1, 2]),
        (
            {"since": "2026-03-14T12:02:00Z", "until": "2026-03-14T12:04:00Z", "actor": "usr_0"},
            [2, 4],
        ),
        ({"action": "key.create", "outcome": "denied"}, []),
        ({"actor": "nobody"}, []),
    ],
)
def test_filters(
    client: TestClient, many: list[dict[str, Any]], params: dict[str, str], expected: list[int]
) -> None:
    assert [e["id"] for e in events_of(client, **params)] == [many[i]["id"] for i in expected]


def test_pagination_follows_cursors(client: TestClient, many: list[dict[str, Any]]) -> None:
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 5, "actor": "usr_0"}
        if cursor:
            params["cursor"] = cursor
        body = client.get(f"/v1/orgs/{ORG}/events", params=params, headers=SERVICE).json()
        pages += 1
        seen += [e["id"] for e in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 2
    assert seen == [e["id"] for e in many[::2]]
    exact = client.get(f"/v1/orgs/{ORG}/events", params={"limit": 12}, headers=SERVICE).json()
    assert len(exact["data"]) == 12
    assert exact["next_cursor"] is None
    assert len(events_of(client)) == 12  # default limit 100


def test_by_request_id_spans_every_chain(client: TestClient, clock: Clock) -> None:
    a = ingested(client, request_id="req_corr")
    clock.advance(seconds=1)
    p = ingested(client, request_id="req_corr", org_id=None, actor={"type": "anonymous"})
    clock.advance(seconds=1)
    b = ingested(client, request_id="req_corr", org_id="org_b")
    ingested(client, request_id="req_other")
    response = client.get("/v1/events", params={"request_id": "req_corr"}, headers=SERVICE)
    assert response.status_code == 200, response.text
    assert [e["id"] for e in response.json()["data"]] == [a["id"], p["id"], b["id"]]
    limited = client.get(
        "/v1/events", params={"request_id": "req_corr", "limit": 2}, headers=SERVICE
    )
    assert len(limited.json()["data"]) == 2


def test_by_request_id_takes_several_ids_at_once(client: TestClient, clock: Clock) -> None:
    first = ingested(client, request_id="req_one")
    clock.advance(seconds=1)
    second = ingested(client, request_id="req_two", org_id="org_b")
    ingested(client, request_id="req_three")
    ids = ["req_two", "req_one", "req_absent", "req_one"]  # order and repeats do not matter
    response = client.get("/v1/events", params={"request_id": ids}, headers=SERVICE)
    assert response.status_code == 200, response.text
    assert [e["id"] for e in response.json()["data"]] == [first["id"], second["id"]]


def test_by_request_id_refuses_too_many_ids_or_an_overlong_one(client: TestClient) -> None:
    too_many = [f"req_{i}" for i in range(MAX_REQUEST_IDS + 1)]
    for params in ({"request_id": too_many}, {"request_id": ["req_one", "r" * 201]}):
        response = client.get("/v1/events", params=params, headers=SERVICE)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "validation_failed"


# -- auth ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("who", "status"),
    [("owner", 200), ("admin", 200), ("member", 403), ("viewer", 403), ("outsider", 403)],
)
@pytest.mark.parametrize("path", ["/events", "/events/verify"])
def test_read_needs_audit_read(
    client: TestClient, world: World, who: str, status: int, path: str
) -> None:
    ingested(client)
    response = client.get(f"/v1/orgs/{ORG}{path}", headers=world.h(who))
    assert response.status_code == status, response.text
    if status == 403:
        error = response.json()["error"]
        assert error["code"] == "permission_denied"
        assert "lacks permission 'audit:read'" in error["message"]


def test_a_refused_read_is_itself_audited(client: TestClient, world: World) -> None:
    ingested(client)
    refused = client.get(
        f"/v1/orgs/{ORG}/events", headers={**world.h("member"), "X-Request-ID": "rid-peek"}
    )
    assert refused.status_code == 403
    events = client.get("/v1/events", params={"request_id": "rid-peek"}, headers=SERVICE)
    (event,) = events.json()["data"]
    assert (event["org_id"], event["action"], event["outcome"]) == (ORG, "authz.denied", "denied")
    assert event["actor"] == {"type": "user", "id": "usr_member"}
    assert "audit:read" in event["reason"]
    assert client.get(f"/v1/orgs/{ORG}/events/verify", headers=SERVICE).json()["ok"] is True


def test_user_of_another_org_is_denied_by_authz(client: TestClient, world: World) -> None:
    response = client.get("/v1/orgs/org_unknown/events", headers=world.h("owner"))
    assert response.status_code == 403
    assert "org_unknown" in response.json()["error"]["message"]


def test_platform_chain_is_service_only(client: TestClient, world: World) -> None:
    for path in ("/events", "/events/verify"):
        response = client.get(f"/v1/orgs/{PLATFORM_CHAIN}{path}", headers=world.h("owner"))
        assert response.status_code == 403
        assert "service token" in response.json()["error"]["message"]


@pytest.mark.parametrize("who", ["owner", "none", "bad"])
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/events"), ("POST", "/v1/events/batch"), ("GET", "/v1/events?request_id=r")],
)
def test_service_only_routes(
    client: TestClient, app: FastAPI, world: World, who: str, method: str, path: str
) -> None:
    headers = {"none": {}, "bad": auth("not-a-token"), "owner": world.h("owner")}[who]
    body = {"events": [event()]} if path.endswith("batch") else event()
    before = snapshot(app)
    response = client.request(
        method, path, json=body if method == "POST" else None, headers=headers
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthenticated"
    assert snapshot(app) == before


def test_identity_down_is_503(client: TestClient, world: World, identity: FakeIdentity) -> None:
    identity.down = True
    response = client.get(f"/v1/orgs/{ORG}/events", headers=world.h("owner"))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "identity_unavailable"


# -- tampering -------------------------------------------------------------------------------
def _tamper(app: FastAPI, seq: int, **values: Any) -> None:
    with app.state.db.session() as s, s.begin():
        s.execute(
            sa.update(store.events)
            .where(store.events.c.chain == ORG, store.events.c.seq == seq)
            .values(**values)
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"reason": "Nothing to see."}, "stored hash does not match its content"),
        ({"details": '{"n":999}'}, "stored hash does not match its content"),
        ({"outcome": "success", "actor_id": "usr_x"}, "stored hash does not match its content"),
        ({"details": "{not json"}, "stored content cannot be read"),
        ({"hash": "f" * 64}, "stored hash does not match its content"),
    ],
)
def test_tampering_names_the_first_broken_seq(
    client: TestClient, app: FastAPI, change: dict[str, Any], message: str
) -> None:
    stored = [ingested(client) for _ in range(9)]
    _tamper(app, 7, **change)
    result = verify(client)
    assert result["ok"] is False
    assert result["first_broken_seq"] == 7
    assert result["reason"].startswith(f"event seq 7 ({stored[6]['id']}): {message}")


def test_rehashed_tampering_breaks_the_next_link(client: TestClient, app: FastAPI) -> None:
    stored = [ingested(client) for _ in range(5)]
    forged = Event.model_validate(stored[2] | {"reason": "Forged."})
    forged.hash = event_hash(forged)
    _tamper(app, 3, reason="Forged.", hash=forged.hash)
    result = verify(client)
    assert result["first_broken_seq"] == 4
    assert result["reason"] == (
        f"event seq 4 ({stored[3]['id']}): prev_hash does not match the hash of event seq 3"
    )


def test_deleted_events_are_detected(client: TestClient, app: FastAPI) -> None:
    stored = [ingested(client) for _ in range(5)]
    with app.state.db.session() as s, s.begin():
        s.execute(sa.delete(store.events).where(store.events.c.seq == 2))
    result = verify(client)
    assert (result["ok"], result["first_broken_seq"]) == (False, 2)
    assert (
        result["reason"]
        == f"event seq 2 is missing: the next stored event is event seq 3 ({stored[2]['id']})"
    )
    with app.state.db.session() as s, s.begin():
        s.execute(sa.delete(store.events).where(store.events.c.seq >= 2))
    result = verify(client)
    assert (result["ok"], result["first_broken_seq"], result["count"]) == (False, 2, 1)
    assert "head records seq 5" in result["reason"]


# -- bad input -------------------------------------------------------------------------------
def _without(key: str) -> dict[str, Any]:
    body = event()
    del body[key]
    return body


BAD_EVENTS: list[Any] = [
    _without("id"),
    _without("time"),
    _without("service"),
    _without("org_id"),
    _without("actor"),
    _without("action"),
    _without("outcome"),
    event(id="key_1"),
    event(id="evt_"),
    event(id="evt_" + "a" * 65),
    event(id="evt_a b"),
    event(id=5),
    event(time="2026-03-14T12:00:00"),
    event(time="yesterday"),
    event(time=1700000000),
    event(time="1700000000"),  # seconds since 1970 are not RFC 3339
    # times UTC cannot hold (year 10000, year 0): found by the fuzz stage, they were a 500
    event(time="9999-12-31T23:59:59-23:59"),
    event(time="0001-01-01T00:00:00+23:59"),
    event(service=""),
    event(service="s" * 41),
    event(org_id=""),
    event(org_id="o" * 101),
    event(org_id=PLATFORM_CHAIN),
    event(org_id="org\n1"),
    event(actor={"type": "robot", "id": "r"}),
    event(actor={"id": "usr_1"}),
    event(actor="usr_1"),
    event(actor={"type": "user", "id": "u", "extra": 1}),
    event(action=""),
    event(action="Key.Create"),
    event(action="key create"),
    event(action="a" * 101),
    event(target={"id": "x"}),
    event(target={"type": ""}),
    event(outcome="ok"),
    event(outcome=None),
    event(reason="r" * 1001),
    event(reason=None),
    event(request_id="r" * 201),
    event(request_id="req\x00"),
    event(details=[1, 2]),
    event(details="text"),
    event(details={"blob": "x" * (16 * 1024)}),
    event(seq=1),
    event(hash="0" * 64),
    [],
    "event",
    None,
]
BAD_BATCHES: list[Any] = [
    {},
    {"events": []},
    {"events": [event() for _ in range(101)]},
    {"events": [event(), event(outcome="maybe")]},
    {"events": event()},
    {"events": [event()], "extra": True},
]
BAD_QUERIES = [
    "limit=0",
    "limit=501",
    "limit=100000",
    "limit=ten",
    "outcome=maybe",
    "action=Bad Action",
    "since=yesterday",
    "until=0.5",  # found by the fuzz stage: read as seconds since 1970, and accepted
    "since=2026-03-14T12:00:00",
    "until=2026-13-01T00:00:00Z",
    "since=9999-12-31T23:59:59-23:59",
    "until=0001-01-01T00:00:00%2B23:59",
    "since=2026-03-15T00:00:00Z&until=2026-03-14T00:00:00Z",
    "actor=",
    "request_id=" + "r" * 201,
]
BAD_CURSORS = ["!!!", "abc", base64.b64encode(b"-1").decode(), "MDE", "MQ==", "x" * 101]


def _cases() -> list[tuple[str, str, str, Any, int, str]]:
    org = f"/v1/orgs/{ORG}/events"
    out: list[tuple[str, str, str, Any, int, str]] = [
        (f"event-{i}", "POST", "/v1/events", b, 422, "validation_failed")
        for i, b in enumerate(BAD_EVENTS)
    ]
    out += [
        (
            f"batch-event-{i}",
            "POST",
            "/v1/events/batch",
            {"events": [event(), b]},
            422,
            "validation_failed",
        )
        for i, b in enumerate(BAD_EVENTS)
    ]
    out += [
        (f"batch-{i}", "POST", "/v1/events/batch", b, 422, "validation_failed")
        for i, b in enumerate(BAD_BATCHES)
    ]
    out += [(f"list-{q}", "GET", f"{org}?{q}", None, 422, "validation_failed") for q in BAD_QUERIES]
    out += [
        (f"cursor-{c}", "GET", f"{org}?cursor={c}", None, 400 if len(c) <= 100 else 422, "")
        for c in BAD_CURSORS
    ]
    out += [
        ("by-request-missing", "GET", "/v1/events", None, 422, "validation_failed"),
        ("by-request-empty", "GET", "/v1/events?request_id=", None, 422, "validation_failed"),
        (
            "by-request-limit",
            "GET",
            "/v1/events?request_id=r&limit=501",
            None,
            422,
            "validation_failed",
        ),
        ("org-too-long", "GET", f"/v1/orgs/{'o' * 101}/events", None, 422, "validation_failed"),
        (
            "verify-org-too-long",
            "GET",
            f"/v1/orgs/{'o' * 101}/events/verify",
            None,
            422,
            "validation_failed",
        ),
        ("put-events", "PUT", "/v1/events", event(), 405, "method_not_allowed"),
        ("delete-event", "DELETE", f"{org}", None, 405, "method_not_allowed"),
    ]
    return out


CASES = _cases()


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "status", "code"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_input_is_a_clear_4xx_and_stores_nothing(
    client: TestClient,
    app: FastAPI,
    name: str,
    method: str,
    path: str,
    body: Any,
    status: int,
    code: str,
) -> None:
    ingested(client)
    before = snapshot(app)
    response = client.request(method, path, json=body, headers=SERVICE)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"type", "code", "message", "request_id", "details"}
    if code:
        assert error["code"] == code
    assert error["message"]
    assert error["request_id"] == response.headers["X-Request-ID"]
    assert snapshot(app) == before


def nested(levels: int) -> dict[str, Any]:
    """`details` nested `levels` deep (the outer object is level 1)."""
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


# Events that could not be read back if audit stored them: too deep for the response serializer,
# too large, text that is not Unicode or that PostgreSQL cannot store.
# Refused at ingest by audit's own limits (422), or before any route by servicekit's request-body
# check (400: nesting past its 64 levels, a lone surrogate escape). Both change nothing.
DETAILS_LIMIT = (422, "validation_failed")
BODY_CHECK = (400, "invalid_json")
HOSTILE: list[tuple[str, dict[str, Any], tuple[int, str], str]] = [
    (
        "one-level-too-deep",
        event(details=nested(MAX_DETAILS_DEPTH + 1)),
        DETAILS_LIMIT,
        f"the limit is {MAX_DETAILS_DEPTH} levels",
    ),
    ("past-the-serializer", event(details=nested(300)), (400, "json_too_deep"), "64 levels"),
    (
        "too-large",
        event(details={"blob": "x" * MAX_DETAILS_BYTES}),
        DETAILS_LIMIT,
        f"the limit is {MAX_DETAILS_BYTES} bytes",
    ),
    ("surrogate-in-reason", event(reason="lone \ud800"), BODY_CHECK, "unicode"),
    ("surrogate-in-details", event(details={"note": "lone \udc00"}), BODY_CHECK, "surrogate"),
    ("surrogate-in-a-key", event(details={"\ud800": 1}), BODY_CHECK, "surrogate"),
    ("nul-in-reason", event(reason="a\x00b"), DETAILS_LIMIT, "NUL"),
    ("nul-in-details", event(details={"note": "a\x00b"}), DETAILS_LIMIT, "NUL"),
]


@pytest.fixture
def on_both(
    tmp_path: Path, clock: Clock, identity: FakeIdentity, database_url: str
) -> Iterator[TestClient]:
    """The service on SQLite and on PostgreSQL (NUL in text is PostgreSQL's to refuse)."""
    settings = make_settings(tmp_path, database_url=database_url)
    with TestClient(create_app(settings, clock=clock), raise_server_exceptions=False) as c:
        yield c


def test_hostile_events_are_refused_and_the_log_stays_readable(on_both: TestClient) -> None:
    client = on_both
    app: Any = client.app
    kept = ingested(client)
    before = snapshot(app)
    for name, body, (status, code), names_the_problem in HOSTILE:
        for path, payload in (
            ("/v1/events", body),
            ("/v1/events/batch", {"events": [event(), body]}),
        ):
            # Encoded by hand: JSON escapes (\ud800) are how a lone surrogate travels.
            raw = json.dumps(payload, ensure_ascii=True).encode()
            headers = SERVICE | {"Content-Type": "application/json"}
            response = client.post(path, content=raw, headers=headers)
            assert response.status_code == status, f"{name} {path}: {response.text[:300]}"
            error = response.json()["error"]
            assert error["code"] == code
            assert names_the_problem.lower() in error["message"].lower(), (name, error["message"])
    assert snapshot(app) == before  # nothing stored, not even the batch's good event
    # What users care about: the org's log still lists and verifies.
    assert [e["id"] for e in events_of(client)] == [kept["id"]]
    assert (verify(client)["ok"], verify(client)["count"]) == (True, 1)
    assert ingested(client)["seq"] == 2  # and takes the next event as usual


def test_details_at_the_limits_are_stored_and_read_back(on_both: TestClient) -> None:
    client = on_both
    deepest = ingested(client, details=nested(MAX_DETAILS_DEPTH))
    largest = ingested(client, details={"blob": "ü" * ((MAX_DETAILS_BYTES - 20) // 2)})
    listed = events_of(client)
    assert [e["details"] for e in listed] == [deepest["details"], largest["details"]]
    assert verify(client)["ok"] is True


@pytest.mark.parametrize(
    "raw",
    [b"{", b"not json", b'{"id": "evt_1",', b"\xff\xfe"],
    ids=["brace", "text", "cut", "binary"],
)
@pytest.mark.parametrize("path", ["/v1/events", "/v1/events/batch"])
def test_unparseable_bodies_are_400(
    client: TestClient, app: FastAPI, raw: bytes, path: str
) -> None:
    before = snapshot(app)
    headers = SERVICE | {"Content-Type": "application/json"}
    response = client.post(path, content=raw, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_json"
    assert snapshot(app) == before


def test_huge_body_is_413(client: TestClient, app: FastAPI) -> None:
    before = snapshot(app)
    body = {"events": [event(details={"blob": "x" * 16_000}) for _ in range(100)]}
    ok = client.post("/v1/events/batch", json=body, headers=SERVICE)
    assert ok.status_code == 200, ok.text[:500]  # a full batch of maximal events fits
    before = snapshot(app)
    huge = client.post(
        "/v1/events", content=b'{"details": "' + b"x" * (3 << 20) + b'"}', headers=SERVICE
    )
    assert huge.status_code == 413
    assert huge.json()["error"]["code"] == "payload_too_large"
    assert snapshot(app) == before
