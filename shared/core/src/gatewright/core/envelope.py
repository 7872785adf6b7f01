"""The one error envelope every Gatewright service answers with.

```json
{"error": {"type": "invalid_request_error", "code": "validation_failed",
           "message": "human sentence", "request_id": "...", "details": {...}}}
```

`type` follows OpenAI's vocabulary so the gateway's errors read naturally to OpenAI SDKs; `code`
is the stable machine code a caller branches on; `message` is a sentence for a person.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str = Field(description="Error family, e.g. invalid_request_error, permission_error.")
    code: str = Field(description="Stable machine code, e.g. budget_exceeded.")
    message: str = Field(description="What was denied or went wrong, and why, for a person.")
    request_id: str = Field(default="", description="The X-Request-ID of the failed request.")
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorEnvelope(BaseModel):
    error: ErrorBody
