"""The service factory: one envelope for every error path, correlation, health, logging."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict

from gatewright.servicekit import Database, ServiceError, create_service_app
from gatewright.servicekit.logging import JsonLinesFormatter

router = APIRouter(prefix="/v1/things", tags=["things"])


class ThingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    size: int


@router.post("", operation_id="create_thing")
def create_thing(body: ThingIn) -> dict[str, object]:
    return {"name": body.name, "size": body.size}


@router.get("/{thing_id}", operation_id="get_thing")
def get_thing(thing_id: str) -> dict[str, str]:
    if thing_id == "boom":
        raise RuntimeError("a bug")
    raise ServiceError(404, "thing_not_found", f"No thing {thing_id}.", details={"id": thing_id})


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    db = Database(f"sqlite:///{tmp_path / 'svc.db'}")
    app = create_service_app(
        service="things", version="0", routers=[router], db=db, max_body_bytes=16384
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def assert_envelope(response, status: int, code: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    return error  # type: ignore[no-any-return]


def test_malformed_json_is_400(client: TestClient) -> None:
    r = client.post(
        "/v1/things", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_envelope(r, 400, "invalid_json")


def test_wrong_types_and_missing_fields_are_422(client: TestClient) -> None:
    error = assert_envelope(client.post("/v1/things", json={"name": 3}), 422, "validation_failed")
    assert "size" in str(error["message"])
    assert_envelope(
        client.post("/v1/things", json={"name": "a", "size": 1, "x": 1}), 422, "validation_failed"
    )


def test_validation_details_never_echo_input(client: TestClient) -> None:
    r = client.post("/v1/things", json={"name": "hunter2-secret", "size": "big"})
    assert "hunter2-secret" not in r.text


def test_unknown_route_and_method(client: TestClient) -> None:
    assert_envelope(client.get("/v1/nothing"), 404, "not_found")
    assert_envelope(client.delete("/v1/things"), 405, "method_not_allowed")


def test_service_error_carries_code_and_details(client: TestClient) -> None:
    error = assert_envelope(client.get("/v1/things/t1"), 404, "thing_not_found")
    assert error["details"] == {"id": "t1"}


def test_unexpected_exception_is_a_500_envelope(client: TestClient) -> None:
    assert_envelope(client.get("/v1/things/boom"), 500, "internal_error")


def test_oversized_body_is_413(client: TestClient) -> None:
    r = client.post(
        "/v1/things", content=b"x" * 20000, headers={"content-type": "application/json"}
    )
    assert_envelope(r, 413, "payload_too_large")


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    r = client.get("/healthz", headers={"X-Request-ID": "run1-gw0-abc-7"})
    assert r.headers["x-request-id"] == "run1-gw0-abc-7"
    generated = client.get("/healthz").headers["x-request-id"]
    assert generated.startswith("req_")
    # Header injection or absurd IDs are replaced, never echoed.
    hostile = client.get("/healthz", headers={"X-Request-ID": "a b<script>" * 20})
    assert hostile.headers["x-request-id"].startswith("req_")


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/readyz").json()["status"] == "ready"


def test_readyz_is_503_when_storage_is_gone(tmp_path: Path) -> None:
    db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    app = create_service_app(service="things", version="0", routers=[], db=db)
    with TestClient(app) as c:
        assert_envelope(c.get("/readyz"), 503, "not_ready")


def test_openapi_documents_the_envelope(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/v1/things"]["post"]
    assert op["operationId"] == "create_thing"
    for status in ("400", "401", "403", "404", "422", "500"):
        schema = op["responses"][status]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith("/ErrorEnvelope")


def test_log_lines_are_json_with_request_id(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    formatter = JsonLinesFormatter("things")
    with caplog.at_level(logging.INFO, logger="gatewright.access"):
        client.get("/healthz", headers={"X-Request-ID": "rid-42"})
    records = [r for r in caplog.records if r.name == "gatewright.access"]
    assert records
    line = json.loads(formatter.format(records[-1]))
    assert line["service"] == "things"
    assert line["extra"]["status"] == 200
    assert line["extra"]["path"] == "/healthz"


def test_the_error_observer_sees_every_service_error_and_cannot_break_the_envelope(
    tmp_path: Path,
) -> None:
    seen: list[tuple[str, int, str]] = []

    def observer(request, exc: ServiceError) -> None:  # type: ignore[no-untyped-def]
        seen.append((request.url.path, exc.status_code, exc.code))
        if exc.details.get("id") == "t2":
            raise RuntimeError("the observer broke")

    app = create_service_app(
        service="things", version="0", routers=[router], on_service_error=observer
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        assert_envelope(c.get("/v1/things/t1"), 404, "thing_not_found")
        assert_envelope(c.get("/v1/things/t2"), 404, "thing_not_found")
        assert_envelope(c.get("/v1/nothing"), 404, "not_found")  # not a ServiceError
    assert seen == [
        ("/v1/things/t1", 404, "thing_not_found"),
        ("/v1/things/t2", 404, "thing_not_found"),
    ]


def test_an_audit_outbox_needs_db_and_settings() -> None:
    from sqlalchemy import MetaData

    from gatewright.servicekit.audit import AuditOutbox

    with pytest.raises(ValueError, match="db and settings"):
        create_service_app(
            service="things",
            version="0",
            routers=[router],
            audit_outbox=AuditOutbox("things", MetaData()),
        )


# -- hostile bodies: refused before any route runs, with the envelope ------------------------
def _post(client: TestClient, body: bytes, content_type: str = "application/json"):  # type: ignore[no-untyped-def]
    return client.post("/v1/things", content=body, headers={"content-type": content_type})


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"name": "\\ud800", "size": 1}', "invalid_json"),  # a lone surrogate escape
        (b'{"name": "a\\udfff", "size": 1}', "invalid_json"),
        (b'{"\\udc00": "a", "name": "a", "size": 1}', "invalid_json"),  # in a key
        (b'{"name": "\xed\xa0\x80", "size": 1}', "invalid_json"),  # raw surrogate bytes
        (b'{"name": "\xff", "size": 1}', "invalid_json"),
        (b'{"name": "a", "size": NaN}', "invalid_json"),
        (b'{"name": "a", "size": -Infinity}', "invalid_json"),
        (b"[" * 5000 + b"]" * 5000, "json_too_deep"),  # past the C parser's recursion limit
        (b'{"a":' * 65 + b"1" + b"}" * 65, "json_too_deep"),
    ],
)
def test_hostile_json_is_400_before_any_route(client: TestClient, body: bytes, code: str) -> None:
    assert_envelope(_post(client, body), 400, code)


def test_valid_unicode_passes_the_check(client: TestClient) -> None:
    # A surrogate PAIR is one valid character; 4-byte UTF-8 and NUL are valid strings too.
    body = '{"name": "\\ud83d\\ude00 😀 \\u0000 é", "size": 1}'.encode()
    r = _post(client, body)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "😀 😀 \x00 é"


def test_nesting_up_to_the_limit_reaches_the_route(client: TestClient) -> None:
    from gatewright.servicekit.requestbody import MAX_JSON_DEPTH

    deep = (
        '{"name": "a", "size": 1, "x": ' + "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    )
    # The check lets it through: the route's own validation (extra="forbid") answers.
    assert_envelope(_post(client, (deep + "}").encode()), 422, "validation_failed")


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
def test_a_body_that_is_not_json_is_415(client: TestClient, content_type: str) -> None:
    error = assert_envelope(
        _post(client, b'{"name": "a", "size": 1}', content_type), 415, "unsupported_media_type"
    )
    assert "application/json" in str(error["message"])


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "application/merge-patch+json"],
)
def test_json_content_types_are_accepted(client: TestClient, content_type: str) -> None:
    assert _post(client, b'{"name": "a", "size": 1}', content_type).status_code == 200


def test_a_chunked_oversized_body_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b" " * 200

    r = client.post("/v1/things", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert_envelope(r, 413, "payload_too_large")


def test_a_refused_body_changes_nothing(tmp_path: Path) -> None:
    calls: list[object] = []
    spy = APIRouter()

    @spy.post("/v1/spy")
    def record(body: dict[str, object]) -> dict[str, int]:
        calls.append(body)
        return {"n": len(calls)}

    app = create_service_app(service="spy", version="0", routers=[spy])
    with TestClient(app) as c:
        for body in (b'{"a": "\\ud800"}', b"[" * 100 + b"]" * 100, b'{"a": NaN}'):
            assert (
                c.post(
                    "/v1/spy", content=body, headers={"content-type": "application/json"}
                ).status_code
                == 400
            )
        assert (
            c.post(
                "/v1/spy", content=b'{"a": 1}', headers={"content-type": "text/plain"}
            ).status_code
            == 415
        )
        assert c.post("/v1/spy", json={"a": 1}).json() == {"n": 1}
    assert calls == [{"a": 1}]
