"""Correlation helpers: traceparent continuation and outbound forwarding."""

from __future__ import annotations

import re

from fastapi import APIRouter
from fastapi.testclient import TestClient

from gatewright.servicekit import create_service_app
from gatewright.servicekit.correlation import current_request_id, outbound_headers

router = APIRouter()


@router.get("/echo")
def echo() -> dict[str, object]:
    return {"request_id": current_request_id(), "outbound": outbound_headers()}


def make_client() -> TestClient:
    return TestClient(create_service_app(service="echo", version="0", routers=[router]))


def test_outbound_headers_forward_request_id_and_trace() -> None:
    trace = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    body = (
        make_client().get("/echo", headers={"X-Request-ID": "rid-1", "traceparent": trace}).json()
    )
    assert body["request_id"] == "rid-1"
    assert body["outbound"]["X-Request-ID"] == "rid-1"
    # Same trace, new span.
    out = body["outbound"]["traceparent"]
    assert out.startswith("00-" + "a" * 32 + "-")
    assert out.split("-")[2] != "b" * 16


def test_a_trace_is_started_when_none_arrives() -> None:
    body = make_client().get("/echo").json()
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", body["outbound"]["traceparent"])


def test_no_request_id_outside_a_request() -> None:
    assert current_request_id() == ""
