"""OpenAI chat-completion response shapes, once for every client that reads them.

The gateway and modelsim both answer `POST /v1/chat/completions` the way OpenAI does; their
clients read the same completion, chunk, usage and model-list shapes, so those live here. Like
every response model (core `APIModel`) they declare what a caller uses and ignore the rest.
Request models stay with each service: the gateway and modelsim validate requests differently.
"""

from __future__ import annotations

from pydantic import Field

from gatewright.core.models import APIModel


class Usage(APIModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int = 0


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

    id: str = ""
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    choices: list[ChunkChoice] = Field(default_factory=list)
    usage: Usage | None = None


class Model(APIModel):
    id: str
    object: str = "model"
    created: int = 0
    owned_by: str = ""


class ModelList(APIModel):
    object: str = "list"
    data: list[Model]


__all__ = [
    "AssistantMessage",
    "ChatCompletion",
    "ChatCompletionChunk",
    "Choice",
    "ChunkChoice",
    "Delta",
    "Model",
    "ModelList",
    "Usage",
]
