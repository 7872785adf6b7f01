"""Wire models shared by the modelsim client and the modelsim service (OpenAI shapes).

Request models ignore unknown fields, unlike the other Gatewright services: OpenAI-compatible
clients send many fields modelsim has no use for (`temperature`, `top_p`, `user`, `tools`, ...),
and a backend that refused them would not be a drop-in backend. The fields modelsim does read are
strict (`max_tokens` must be a real integer, `stream` a real boolean), so bad input is a 4xx.
Response models subclass core `APIModel`: minimal, tolerant of fields a newer provider adds, and
carrying the `request_id` of the response they came from; the completion, chunk, usage and
model-list shapes are core's (`gatewright.core.chat`), the same the gateway's client reads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from gatewright.core import APIModel
from gatewright.core.chat import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    Delta,
    Model,
    ModelList,
    Usage,
)

MAX_TOKENS_LIMIT = 32_768
"""The largest `max_tokens` modelsim accepts."""

MessageRole = Literal["system", "developer", "user", "assistant", "tool"]

MaxTokens = Annotated[StrictInt, Field(ge=1, le=MAX_TOKENS_LIMIT)]
ModelName = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]+$")]


# -- requests (the service validates these) --------------------------------------------------
class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextPart(_Request):
    """One part of a list-shaped `content`; modelsim is text-only."""

    type: Literal["text"]
    text: str


class ChatMessage(_Request):
    role: MessageRole
    content: str | list[TextPart] | None = None


class StreamOptions(_Request):
    include_usage: StrictBool = False


class ChatCompletionRequest(_Request):
    """`POST /v1/chat/completions`. `max_completion_tokens` is OpenAI's newer name for
    `max_tokens`; either may be sent, both only when they agree."""

    model: ModelName
    messages: list[ChatMessage] = Field(min_length=1, max_length=10_000)
    max_tokens: MaxTokens | None = None
    max_completion_tokens: MaxTokens | None = None
    stream: StrictBool = False
    stream_options: StreamOptions | None = None

    @model_validator(mode="after")
    def _one_max_tokens(self) -> ChatCompletionRequest:
        if (
            self.max_tokens is not None
            and self.max_completion_tokens is not None
            and self.max_tokens != self.max_completion_tokens
        ):
            raise ValueError("max_tokens and max_completion_tokens disagree; send one of them")
        return self

    @property
    def effective_max_tokens(self) -> int | None:
        return self.max_completion_tokens if self.max_tokens is None else self.max_tokens


# -- responses -------------------------------------------------------------------------------
class Observation(BaseModel):
    """One request that reached `/v1/chat/completions`, as modelsim saw it.

    A plain tolerant model, not an `APIModel`: its `request_id` field is the observed request's
    `X-Request-ID` (the list's own `.request_id` is that of the `GET /v1/observations` call).

    `model`, `stream`, `max_tokens` and `message_count` are read leniently from the raw body, so
    they are null when the body did not carry them (or was not JSON). `status` is null while
    the request is still being answered. Secret-looking headers are `***`.
    """

    model_config = ConfigDict(extra="ignore")

    seq: int
    request_id: str
    method: str
    path: str
    model: str | None = None
    stream: bool | None = None
    max_tokens: int | None = None
    message_count: int | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    received_at: datetime
    status: int | None = None


class ObservationList(APIModel):
    data: list[Observation]


__all__ = [
    "MAX_TOKENS_LIMIT",
    "AssistantMessage",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionRequest",
    "ChatMessage",
    "Choice",
    "ChunkChoice",
    "Delta",
    "MaxTokens",
    "MessageRole",
    "Model",
    "ModelList",
    "ModelName",
    "Observation",
    "ObservationList",
    "StreamOptions",
    "TextPart",
    "Usage",
]
