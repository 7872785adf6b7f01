"""Gatewright modelsim client: `Client` / `AsyncClient`, wire models, the tokenizers, pact names.

The service lives in `gatewright.modelsim.service` and needs the `[service]` extra; nothing here
imports it, FastAPI or servicekit. `count_prompt_tokens` (words) and `count_prompt_bytes`
(`sim-bytes`) are modelsim's tokenizers (see `gatewright.modelsim._tokenizer`), exported so tests
compute the numbers modelsim reports.
"""

from gatewright.modelsim._client import (
    AsyncChat,
    AsyncClient,
    AsyncCompletions,
    AsyncModels,
    AsyncObservations,
    Chat,
    Client,
    Completions,
    Models,
    Observations,
)
from gatewright.modelsim._tokenizer import (
    DEFAULT_MAX_TOKENS,
    content_text,
    count_bytes,
    count_prompt_bytes,
    count_prompt_tokens,
    count_tokens,
)
from gatewright.modelsim.contract import (
    PROVIDER,
    STATE_MODEL_EXISTS,
    STATE_MODEL_FAILS_500,
    STATE_MODEL_FAILS_503,
)
from gatewright.modelsim.models import (
    MAX_TOKENS_LIMIT,
    ChatCompletion,
    ChatCompletionChunk,
    Model,
    ModelList,
    Observation,
    ObservationList,
    Usage,
)

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "MAX_TOKENS_LIMIT",
    "PROVIDER",
    "STATE_MODEL_EXISTS",
    "STATE_MODEL_FAILS_500",
    "STATE_MODEL_FAILS_503",
    "AsyncChat",
    "AsyncClient",
    "AsyncCompletions",
    "AsyncModels",
    "AsyncObservations",
    "Chat",
    "ChatCompletion",
    "ChatCompletionChunk",
    "Client",
    "Completions",
    "Model",
    "ModelList",
    "Models",
    "Observation",
    "ObservationList",
    "Observations",
    "Usage",
    "content_text",
    "count_bytes",
    "count_prompt_bytes",
    "count_prompt_tokens",
    "count_tokens",
]
