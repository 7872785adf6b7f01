"""modelsim's tokenizers: a word count (every `sim-*` model) and a byte count (`sim-bytes`).

The formulas are part of modelsim's contract and must stay exactly these:

```
tokens(text)       = len(text.split())            # whitespace-separated words
content_text(m)    = m.content                     if it is a string
                   = " ".join(p.text for text parts) if it is a list of {type: "text", text}
                   = ""                            if it is null / absent
prompt_tokens      = sum(tokens(content_text(m)) + 4 for m in messages) + 2
completion_tokens  = max_tokens (default 16): the completion is exactly that many words
```

`sim-bytes` counts like the worst byte-level tokenizer, one token per UTF-8 byte:

```
prompt_tokens      = sum(bytes(m.role) + bytes(content_text(m)) + 4 for m in messages) + 2
completion_tokens  = max_tokens: the completion is exactly that many bytes (ASCII)
```

The word count equals the gateway's old estimate and undercounts every real tokenizer; the byte
count is what a test of the gateway's reservation bound (decision 10) runs against.

Nothing here imports the service, FastAPI or servicekit; it accepts plain dicts (what a client
sends) as well as objects with `.content` attributes (the wire models).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

PER_MESSAGE_TOKENS: Final = 4
PER_REQUEST_TOKENS: Final = 2
DEFAULT_MAX_TOKENS: Final = 16


def count_tokens(text: str) -> int:
    """Tokens in `text`: its number of whitespace-separated words."""
    return len(text.split())


def _get(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


def content_text(content: Any) -> str:
    """The text of a message's `content`: a string, a list of text parts, or null."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for part in content:
        if _get(part, "type") == "text":
            text = _get(part, "text")
            if isinstance(text, str):
                texts.append(text)
    return " ".join(texts)


def count_bytes(text: str) -> int:
    """Tokens in `text` for `sim-bytes`: its UTF-8 bytes."""
    return len(text.encode("utf-8", "surrogatepass"))


def count_prompt_bytes(messages: Iterable[Mapping[str, Any] | Any]) -> int:
    """`prompt_tokens` `sim-bytes` reports for these messages (dicts or message models)."""
    return (
        sum(
            count_bytes(str(_get(m, "role") or ""))
            + count_bytes(content_text(_get(m, "content")))
            + PER_MESSAGE_TOKENS
            for m in messages
        )
        + PER_REQUEST_TOKENS
    )


def count_prompt_tokens(messages: Iterable[Mapping[str, Any] | Any]) -> int:
    """`prompt_tokens` modelsim reports for these messages (dicts or message models)."""
    return (
        sum(count_tokens(content_text(_get(m, "content"))) + PER_MESSAGE_TOKENS for m in messages)
        + PER_REQUEST_TOKENS
    )
