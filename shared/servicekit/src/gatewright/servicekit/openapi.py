"""OpenAPI for a route that reads its own body: `openapi_body(Model)` documents what it validates.

A route that parses the raw body itself (the gateway's completions keep the client's fields
untouched and answer OpenAI-style errors) still validates it with a pydantic model; passing
`openapi_extra=openapi_body(Model)` puts that model's JSON schema in the operation, so clients and
schema-driven fuzzers see the real body instead of `{"type": "object"}`. The schema is inlined
(no `$defs`), since an operation's `openapi_extra` cannot add components.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_DEFS_PREFIX = "#/$defs/"


def _inline(node: Any, defs: dict[str, Any], seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_DEFS_PREFIX):
        name = ref.removeprefix(_DEFS_PREFIX)
        if name in seen:
            raise ValueError(f"{' -> '.join((*seen, name))}: a recursive model cannot be inlined")
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return _inline({**defs[name], **rest}, defs, (*seen, name))
    return {key: _inline(value, defs, seen) for key, value in node.items()}


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """`model`'s validation JSON schema with every `$defs` reference replaced by its definition."""
    schema = model.model_json_schema(mode="validation")
    defs = schema.pop("$defs", {})
    inlined: dict[str, Any] = _inline(schema, defs, (model.__name__,))
    return inlined


def openapi_body(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """`openapi_extra` documenting an `application/json` request body that `model` validates."""
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": inline_schema(model)}},
        }
    }
