"""What the OpenAPI documents: the envelope statuses, readiness, and self-parsed bodies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, Request
from pydantic import BaseModel

from gatewright.servicekit import Database, create_service_app
from gatewright.servicekit.openapi import inline_schema, openapi_body


class Part(BaseModel):
    text: str


class Message(BaseModel):
    role: str
    parts: list[Part]


class ChatBody(BaseModel):
    messages: list[Message]
    first: Part | None = None


class Node(BaseModel):
    children: list[Node] = []


router = APIRouter()


@router.post("/v1/raw", operation_id="raw", openapi_extra=openapi_body(ChatBody))
async def raw(request: Request) -> dict[str, int]:
    return {"bytes": len(await request.body())}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


def test_inline_schema_has_no_refs_and_keeps_every_definition() -> None:
    schema = inline_schema(ChatBody)
    assert _refs(schema) == []
    assert "$defs" not in schema
    message = schema["properties"]["messages"]["items"]
    assert message["required"] == ["role", "parts"]
    assert message["properties"]["parts"]["items"]["properties"]["text"] == {
        "title": "Text",
        "type": "string",
    }
    assert {"$ref": "#/$defs/Part"} not in schema["properties"]["first"]["anyOf"]


def test_a_recursive_model_cannot_be_inlined() -> None:
    with pytest.raises(ValueError, match="recursive"):
        inline_schema(Node)


def test_the_operation_documents_the_body_and_every_error(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'svc.db'}")
    spec = create_service_app(service="raw", version="0", routers=[router], db=db).openapi()
    operation = spec["paths"]["/v1/raw"]["post"]
    body = operation["requestBody"]
    assert body["required"] is True
    schema = body["content"]["application/json"]["schema"]
    # FastAPI's serializer drops `"default": null`; the rest is the model's schema.
    assert _refs(schema) == []
    assert schema["required"] == ["messages"]
    assert schema["properties"]["messages"] == inline_schema(ChatBody)["properties"]["messages"]
    for status in ("400", "401", "403", "404", "409", "413", "415", "422", "500"):
        assert status in operation["responses"], status
    assert "503" in spec["paths"]["/readyz"]["get"]["responses"]
