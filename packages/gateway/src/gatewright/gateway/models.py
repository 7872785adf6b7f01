"""Wire models shared by the gateway client and the gateway service (OpenAI shapes for completions).

Request models for the route admin API are strict (unknown fields refused, bounds checked), so
bad input is a 4xx that changes nothing. The completion request model ignores fields it does not
read (`temperature`, `tools`, ...) and the gateway passes them through to the backend untouched.
Response models subclass core `APIModel`: minimal, tolerant of fields a newer gateway adds, and
carrying the `request_id` of the response they came from. The completion, chunk, usage and
model-list shapes are core's (`gatewright.core.chat`, shared with modelsim's client); the
gateway's `ChatCompletion` adds what its response headers say.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictInt,
    StringConstraints,
    field_validator,
)

from gatewright.core import APIModel, chat
from gatewright.core.chat import (
    AssistantMessage,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    Delta,
    Model,
    ModelList,
    Usage,
)

ALIAS_PATTERN = r"^[A-Za-z0-9._:\-]{1,100}$"
MAX_PRICE = 10**9
MAX_BACKENDS = 5
DEFAULT_MAX_OUTPUT_TOKENS = 4096
"""A route's `max_output_tokens` when none is set: what every current chat model accepts as
`max_tokens`, and long enough that an answer the caller never capped is not cut short."""
MAX_OUTPUT_TOKENS = 1_000_000
"""The largest `max_output_tokens` a route may set."""
MAX_CHOICES = 128
"""The largest `n` (choices per completion) the gateway accepts, as OpenAI does."""

Alias = Annotated[str, StringConstraints(pattern=ALIAS_PATTERN)]
Price = Annotated[StrictInt, Field(ge=0, le=MAX_PRICE)]
OutputTokens = Annotated[StrictInt, Field(ge=1, le=MAX_OUTPUT_TOKENS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- routes ----------------------------------------------------------------------------------
class Backend(_Strict):
    """One backend of a route: base URL (the gateway POSTs `{url}/v1/chat/completions`), the
    model name that backend knows, and the timeout for one whole attempt."""

    url: Annotated[str, StringConstraints(min_length=8, max_length=500)]
    model: Annotated[
        str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]+$")
    ]
    timeout_seconds: Annotated[float, Field(ge=0.1, le=120)] = 30.0

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parsed = AnyHttpUrl(value)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")


class RouteUpsert(_Strict):
    """`PUT /v1/orgs/{org_id}/routes/{alias}` and `PUT /v1/routes/{alias}`.

    `max_output_tokens` is the route's largest `max_tokens`: what the gateway sends upstream
    (and reserves) when a request sets none, and the most a request may ask for (more is 400,
    as OpenAI answers a `max_tokens` above a model's limit). Set it to the backends' own
    output limit; `DEFAULT_MAX_OUTPUT_TOKENS` when not given."""

    backends: Annotated[list[Backend], Field(min_length=1, max_length=MAX_BACKENDS)]
    input_micro_usd_per_mtok: Price
    output_micro_usd_per_mtok: Price
    max_output_tokens: OutputTokens = DEFAULT_MAX_OUTPUT_TOKENS


class Route(APIModel):
    alias: str
    org_id: str | None = None
    backends: list[Backend]
    input_micro_usd_per_mtok: int
    output_micro_usd_per_mtok: int
    max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS
    updated_at: datetime


class RouteList(APIModel):
    data: list[Route]


# -- completions -----------------------------------------------------------------------------
class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    content: str | list[TextPart] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: StrictBool = False


class ChatCompletionRequest(BaseModel):
    """What the gateway reads from `POST /v1/chat/completions`; other fields pass through."""

    model_config = ConfigDict(extra="allow")

    model: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=10_000)]
    max_tokens: StrictInt | None = None
    max_completion_tokens: StrictInt | None = None
    n: Annotated[StrictInt, Field(ge=1, le=MAX_CHOICES)] | None = None
    stream: StrictBool = False
    stream_options: StreamOptions | None = None


class ChatCompletion(chat.ChatCompletion):
    """A completion; `served_by`, `served_model` and `attempts` come from the response headers
    (`X-Gatewright-Backend`, `X-Gatewright-Backend-Model`, `X-Gatewright-Attempts`)."""

    _served_by: str = PrivateAttr(default="")
    _served_model: str = PrivateAttr(default="")
    _attempts: int = PrivateAttr(default=0)

    @property
    def served_by(self) -> str:
        return self._served_by

    @property
    def served_model(self) -> str:
        return self._served_model

    @property
    def attempts(self) -> int:
        return self._attempts


class RevokedKeys(_Strict):
    """`POST /v1/internal/revoked-keys`: what identity sends when keys stop being valid."""

    key_ids: Annotated[
        list[Annotated[str, StringConstraints(max_length=200)]], Field(max_length=100_000)
    ]
    org_id: str | None = None


def jsonable(value: Any) -> Any:
    """A model (or anything) as plain JSON-compatible data."""
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


__all__ = [
    "ALIAS_PATTERN",
    "DEFAULT_MAX_OUTPUT_TOKENS",
    "MAX_BACKENDS",
    "MAX_CHOICES",
    "MAX_OUTPUT_TOKENS",
    "MAX_PRICE",
    "AssistantMessage",
    "Backend",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionRequest",
    "ChatMessage",
    "Choice",
    "ChunkChoice",
    "Delta",
    "Model",
    "ModelList",
    "RevokedKeys",
    "Route",
    "RouteList",
    "RouteUpsert",
    "Usage",
]
