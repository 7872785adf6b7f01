"""What a completion can cost at most, in tokens: the numbers the gateway reserves (decision 10).

A reservation must be an upper bound of what ANY backend behind a route reports, or an org near
its limit ends above it. Counting words (what modelsim does) undercounts every real tokenizer,
so the prompt is bounded by bytes instead:

```
prompt_token_bound(body) = PROMPT_OVERHEAD_TOKENS
                         + MESSAGE_OVERHEAD_TOKENS * len(body["messages"])
                         + UTF-8 bytes of json.dumps(body, ensure_ascii=False)
completion bound         = max_tokens sent upstream * n (the number of choices, default 1)
streamed bound           = UTF-8 bytes of the text streamed so far, at most the completion bound
```

One token per UTF-8 byte (`text_token_bound`) is the one measure all three use. The streamed
bound is what a stream is billed when its backend reported no usage (a client gone mid-stream,
a broken or cut stream).

Why it bounds: a byte-level BPE tokenizer (GPT's tiktoken encodings, Llama 3, Qwen, Mistral's
Tekken, ...) emits at most one token per UTF-8 byte of the text it is given, and a SentencePiece
tokenizer with byte fallback at most one per byte plus a word-boundary piece. Everything a
backend renders into its prompt comes from the body: each message's role, name and content
(text parts, tool calls with their argument strings, tool call IDs), and the `tools`,
`response_format` and similar fields, which chat templates render as JSON or something terser.
The body written as JSON holds every one of those strings, escaped (never shorter), so its
byte count bounds their tokens. The per-message allowance covers a chat template's special
tokens and role header (OpenAI's format uses 3 or 4, Llama 3's 5) and the boundary piece; the
per-request one covers reply priming, a begin-of-text token and a short preamble of the
template's own. What the bound does not cover (media parts referenced by URL, whose token cost
depends on the image, and a backend that adds a long system prompt of its own or ignores
`max_tokens`) is recorded when it happens: the completion's audit event carries
`overrun_micro_usd`.

Fields that are not prompt text (`model`, `temperature`, `max_tokens`, ...) are counted too:
a few dozen tokens of slack, in exchange for a rule that needs no list of fields to keep up to
date. The bound is released at commit, so slack only ever refuses early, never overspends.

Pure functions over plain dicts, with no service imports: the gateway reserves with them, and a
client or a test can compute what a request will reserve.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

PROMPT_OVERHEAD_TOKENS: Final = 64
"""Per request: reply priming, begin-of-text, a chat template's own preamble."""
MESSAGE_OVERHEAD_TOKENS: Final = 8
"""Per message: the chat template's special tokens and role header, a word-boundary piece."""


def text_token_bound(text: str) -> int:
    """At most how many tokens any byte-level tokenizer makes of `text`: its UTF-8 bytes
    (surrogatepass, so that a lone surrogate counts its 3 bytes instead of raising)."""
    return len(text.encode("utf-8", "surrogatepass"))


def prompt_token_bound(body: Mapping[str, Any]) -> int:
    """At most how many prompt tokens any backend can count for this request body (a JSON
    object as the client sent it; `messages` a list)."""
    messages = body.get("messages")
    count = len(messages) if isinstance(messages, list) else 0
    # ensure_ascii=False keeps non-ASCII text at its UTF-8 size (an escape would be 6 bytes).
    text = json.dumps(body, ensure_ascii=False)
    return PROMPT_OVERHEAD_TOKENS + MESSAGE_OVERHEAD_TOKENS * count + text_token_bound(text)


def completion_token_bound(max_tokens: int, n: int | None = None) -> int:
    """At most how many completion tokens a backend can bill: `max_tokens` for each of the `n`
    choices (reasoning tokens are part of `max_tokens` / `max_completion_tokens`)."""
    return max_tokens * (1 if n is None else n)


def streamed_token_bound(texts: list[str], limit: int) -> int:
    """At most how many tokens the streamed `texts` are, never more than the completion's
    bound `limit`."""
    return min(limit, text_token_bound("".join(texts)))


__all__ = [
    "MESSAGE_OVERHEAD_TOKENS",
    "PROMPT_OVERHEAD_TOKENS",
    "completion_token_bound",
    "prompt_token_bound",
    "streamed_token_bound",
    "text_token_bound",
]
