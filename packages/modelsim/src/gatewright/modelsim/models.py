"""Wire models shared by the modelsim client and the modelsim service (OpenAI shapes).

Request models ignore unknown fields, unlike the other Gatewright services: OpenAI-compatible
clients send many fields modelsim has no use for (`temperature`, `top_p`, `user`, `tools`, ...),
and a backend that refused them would not be a drop-in backend. The fields modelsim does read are
strict (`max_tokens` must be a real integer, `stream` a real boolean), so bad input is a 4xx.
Response models subclass core `APIModel`: minimal, tolerant of fields a newer provider adds, and
carrying the `request_id` of the response they came from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from gatewright.core import APIModel

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
class Usage(APIModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(APIModel):
    role: str = "assistant"
    content: str | None = None


class Choice(APIModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: str | None = None


class ChatCompletion(APIModel):
    id: str
    object: str = "chat.completion"
    created: int = 0
    model: str
    choices: list[Choice]
    usage: Usage | None = None

    @property
    def content(self) -> str:
        """The first choice's text ('' when there is none)."""
        return (self.choices[0].message.content or "") if self.choices else ""


class Delta(APIModel):
    role: str | None = None
    content: str | None = None


class ChunkChoice(APIModel):
    index: int = 0
    delta: Delta = Field(default_factory=Delta)
    finish_reason: str | None = None


class ChatCompletionChunk(APIModel):
    """One `data:` event of a streamed completion (the usage chunk has `choices: []`)."""

    id: str
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str
    choices: list[ChunkChoice] = Field(default_factory=list)
    usage: Usage | None = None


class Model(APIModel):
    id: str
    object: str = "model"
    owned_by: str = ""
    created: int = 0


class ModelList(APIModel):
    object: str = "list"
    data: list[Model]


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
