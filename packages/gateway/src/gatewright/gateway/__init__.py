"""Gatewright gateway client: `Client` / `AsyncClient`, wire models, pact names, and the token
bounds a completion reserves (`prompt_token_bound`, `completion_token_bound`; decision 10).

The service lives in `gatewright.gateway.service` and needs the `[service]` extra; nothing here
imports it, FastAPI or servicekit.
"""

from gatewright.gateway._bounds import (
    MESSAGE_OVERHEAD_TOKENS,
    PROMPT_OVERHEAD_TOKENS,
    completion_token_bound,
    prompt_token_bound,
)
from gatewright.gateway._client import (
    ATTEMPTS_HEADER,
    BACKEND_HEADER,
    BACKEND_MODEL_HEADER,
    AsyncChat,
    AsyncChatCompletionStream,
    AsyncClient,
    AsyncCompletions,
    AsyncModels,
    AsyncRoutes,
    Chat,
    ChatCompletionStream,
    Client,
    Completions,
    Models,
    Routes,
)
from gatewright.gateway.contract import (
    CONSUMER,
    PROVIDER,
    STATE_API_KEY,
    STATE_BUDGET_EXHAUSTED,
    STATE_NO_ROUTE,
    STATE_ORG_EXISTS,
    STATE_ROUTE_EXISTS,
    STATE_SERVICE_TOKEN,
)
from gatewright.gateway.models import (
    DEFAULT_MAX_OUTPUT_TOKENS,
    MAX_OUTPUT_TOKENS,
    Backend,
    ChatCompletion,
    ChatCompletionChunk,
    Model,
    ModelList,
    Route,
    RouteList,
    Usage,
)

__all__ = [
    "ATTEMPTS_HEADER",
    "BACKEND_HEADER",
    "BACKEND_MODEL_HEADER",
    "CONSUMER",
    "DEFAULT_MAX_OUTPUT_TOKENS",
    "MAX_OUTPUT_TOKENS",
    "MESSAGE_OVERHEAD_TOKENS",
    "PROMPT_OVERHEAD_TOKENS",
    "PROVIDER",
    "STATE_API_KEY",
    "STATE_BUDGET_EXHAUSTED",
    "STATE_NO_ROUTE",
    "STATE_ORG_EXISTS",
    "STATE_ROUTE_EXISTS",
    "STATE_SERVICE_TOKEN",
    "AsyncChat",
    "AsyncChatCompletionStream",
    "AsyncClient",
    "AsyncCompletions",
    "AsyncModels",
    "AsyncRoutes",
    "Backend",
    "Chat",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionStream",
    "Client",
    "Completions",
    "Model",
    "ModelList",
    "Models",
    "Route",
    "RouteList",
    "Routes",
    "Usage",
    "completion_token_bound",
    "prompt_token_bound",
]
