"""The one check of what a caller sends as a request body, before any route sees it.

Every service is built on FastAPI, which parses JSON with the standard library and hands the
values on: a lone surrogate (`"\\ud800"`) is a valid JSON escape but not a string any encoder
can write (SQLite, httpx and hashlib raise on it), `NaN` is accepted by `json.loads` but refused
by the response encoder, a few kilobytes of `[[[[` raise `RecursionError` past every
`except ValueError`, and FastAPI turns any error while reading the body (an oversized chunked
one included) into a 400. So this ASGI middleware reads the body first and refuses, with the
error envelope and before any route code runs (so a refusal changes nothing):

- a body over `max_body_bytes`, declared or streamed (chunked): 413 `payload_too_large`;
- a non-empty body on a POST/PUT/PATCH whose `Content-Type` is not JSON
  (`application/json` or `application/*+json`, charset utf-8 if given): 415
  `unsupported_media_type`;
- a JSON body that is not UTF-8 or not JSON (400 `invalid_json`), holds
  `NaN`/`Infinity` or a string that is not valid Unicode (400 `invalid_json`), or nests deeper
  than `MAX_JSON_DEPTH` (400 `json_too_deep`).

The parsed value is kept on the request (`await json_body(request)`), so a route on the hot path
(the gateway's completions) does not parse the body a second time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gatewright.servicekit.errors import ServiceError, send_error

DEFAULT_MAX_BODY_BYTES = 1 << 20
# Deep enough for any real payload (OpenAI tool schemas nest a dozen levels), shallow enough
# that every encoder and validator on the way (pydantic, the JSON column, the response
# serializer) handles it without recursing out.
MAX_JSON_DEPTH = 64

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_JSON_TYPE = re.compile(r"^application/([a-z0-9.+-]+\+)?json$")
# A lone surrogate can only come from a `\uD800`-`\uDFFF` escape: raw surrogate bytes are not
# UTF-8 and fail the strict decode first. Only bodies with such an escape are walked.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_STATE_KEY = "gatewright_json_body"
_NOT_PARSED = object()


class BodyRejected(Exception):
    """A body this service will not read; becomes the error envelope."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _no_constants(name: str) -> Any:
    raise BodyRejected(
        400, "invalid_json", f"The request body holds {name}, which is not a JSON number."
    )


def _too_deep(depth: int) -> BodyRejected:
    return BodyRejected(
        400,
        "json_too_deep",
        f"The request body nests deeper than {depth} levels of arrays and objects.",
    )


def _deeper_than(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _strings(value: Any) -> Any:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            for k, v in item.items():
                yield k
                stack.append(v)
        elif isinstance(item, list):
            stack.extend(item)


def parse_json(raw: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The body as JSON, or `BodyRejected` with the reason."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyRejected(
            400, "invalid_json", f"The request body is not valid UTF-8 (at byte {exc.start})."
        ) from exc
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except RecursionError as exc:
        raise _too_deep(max_depth) from exc
    except ValueError as exc:
        raise BodyRejected(
            400, "invalid_json", f"The request body is not valid JSON: {exc}."
        ) from exc
    # Fewer brackets than the limit cannot nest deeper than it: most bodies skip the walk.
    brackets = text.count("[") + text.count("{")
    if brackets > max_depth and _deeper_than(value, max_depth):
        raise _too_deep(max_depth)
    if _SURROGATE_ESCAPE.search(text):
        for s in _strings(value):
            try:
                s.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise BodyRejected(
                    400,
                    "invalid_json",
                    "The request body holds a string that is not valid Unicode (a lone "
                    "surrogate escape such as \\ud800).",
                ) from exc
    return value


async def json_body(request: Request) -> Any:
    """The body the middleware parsed, else (an empty body, an app built without the
    middleware) the same check made now; `BodyRejected` becomes a `ServiceError`."""
    value = request.scope.get("state", {}).get(_STATE_KEY, _NOT_PARSED)
    if value is not _NOT_PARSED:
        return value
    try:
        return parse_json(await request.body())
    except BodyRejected as rejected:
        raise ServiceError(rejected.status, rejected.code, rejected.message) from rejected


def _content_type(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key == b"content-type":
            return bytes(value).decode("latin-1")
    return None


def _json_media(content_type: str) -> bool:
    media, _, params = content_type.partition(";")
    if not _JSON_TYPE.match(media.strip().lower()):
        return False
    for param in params.split(";"):
        name, _, val = param.strip().partition("=")
        if name.lower() == "charset" and val.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return False
    return True


# Told of every body the middleware refuses (the request, what was read of it, the status),
# e.g. modelsim's observations, which record every request that reached the backend.
RejectionObserver = Callable[[Request, bytes, int], None]


class RequestBodyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        on_rejected: RejectionObserver | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.on_rejected = on_rejected

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = b""
        try:
            body = await self._read(scope, receive)
            if body and scope["method"] in _BODY_METHODS:
                content_type = _content_type(scope)
                if content_type is None or not _json_media(content_type):
                    raise BodyRejected(
                        415,
                        "unsupported_media_type",
                        "This service takes JSON bodies (Content-Type: application/json); the "
                        f"request was sent as {content_type or 'no content type'}.",
                    )
                scope.setdefault("state", {})[_STATE_KEY] = parse_json(body)
        except BodyRejected as rejected:
            if self.on_rejected is not None:
                self.on_rejected(Request(scope), body, rejected.status)
            await send_error(send, rejected.status, rejected.code, rejected.message)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, scope: Scope, receive: Receive) -> bytes:
        declared = None
        for key, value in scope["headers"]:
            if key == b"content-length":
                declared = value
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            raise self._too_large()
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away before the body was in: nothing to serve.
                raise BodyRejected(400, "invalid_request", "The client disconnected.")
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_body_bytes:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _too_large(self) -> BodyRejected:
        return BodyRejected(
            413,
            "payload_too_large",
            f"The request body is larger than the {self.max_body_bytes} bytes this service "
            "accepts.",
        )
